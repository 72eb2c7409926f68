// GET /fhir/AuditEvent/<id> and AuditEvent searches, for administrative clients (no organization) only:
// for every other client AuditEvent is as if it did not exist (404, empty searchset). AuditEvents are
// written by the server alone and never change: create, update, patch and delete answer 405.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseAuditQuery } from '../../audit/search.js';
import type { AuditQuery, AuditStore } from '../../audit/types.js';
import { serializeBundle, type BundleLink } from '../../fhir/bundles.js';
import { FhirError, issue, notFound } from '../../fhir/outcome.js';
import { searchParams } from '../negotiation.js';
import { baseUrlOf, sendJson } from '../responses.js';

/** With authentication on, only clients bound to no organization; with it off (loopback), the local operator. */
function mayReadAudit(request: FastifyRequest, authEnabled: boolean): boolean {
  if (!authEnabled) return true;
  return request.auth !== null && request.auth.organization === undefined;
}

function immutable(): FhirError {
  return new FhirError(405, issue('not-supported', 'AuditEvents are recorded by the server and cannot be created, changed or deleted through the API'), {
    Allow: 'GET',
  });
}

function pageLinks(base: string, params: URLSearchParams, query: AuditQuery, total: number): BundleLink[] {
  const url = (offset: number) => {
    const p = new URLSearchParams(params);
    p.delete('_offset');
    if (offset > 0) p.set('_offset', String(offset));
    const text = p.toString();
    return `${base}/AuditEvent${text ? `?${text}` : ''}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: url(query.offset) }];
  if (query.count > 0 && query.offset + query.count < total) links.push({ relation: 'next', url: url(query.offset + query.count) });
  if (query.offset > 0) links.push({ relation: 'previous', url: url(Math.max(0, query.offset - Math.max(query.count, 1))) });
  return links;
}

export function auditEventRoutes(app: FastifyInstance, store: AuditStore, options: { authEnabled: boolean; configuredBaseUrl?: string }): void {
  app.get<{ Params: { id: string } }>('/AuditEvent/:id', async (request, reply) => {
    const content = mayReadAudit(request, options.authEnabled) ? await store.read(request.params.id) : undefined;
    if (content === undefined) throw notFound(`AuditEvent/${request.params.id} is not known`);
    return sendJson(reply, 200, content);
  });

  const search = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = searchParams(request);
    if (request.body instanceof URLSearchParams) for (const [k, v] of request.body) params.append(k, v);
    // Parameters are checked for everyone, so a refusal never depends on who asks.
    const query = parseAuditQuery(params);
    const page = mayReadAudit(request, options.authEnabled) ? await store.search(query) : { records: [], total: 0 };
    const base = baseUrlOf(request, options.configuredBaseUrl);
    const body = serializeBundle(
      { id: randomUUID(), type: 'searchset', total: page.total, link: pageLinks(base, params, query, page.total) },
      page.records.map((r) => ({ fields: { fullUrl: `${base}/AuditEvent/${r.id}`, search: { mode: 'match' } }, resourceJson: r.content })),
    );
    return sendJson(reply, 200, body);
  };
  app.get('/AuditEvent', search);
  app.post('/AuditEvent/_search', search);

  const refuse = (): Promise<never> => Promise.reject(immutable());
  app.post('/AuditEvent', refuse);
  app.put('/AuditEvent', refuse);
  app.delete('/AuditEvent', refuse);
  app.put('/AuditEvent/:id', refuse);
  app.patch('/AuditEvent/:id', refuse);
  app.delete('/AuditEvent/:id', refuse);
}

/** A Bundle entry that would write an AuditEvent is refused as the single request would be. */
export function refuseAuditEventWrites(entry: { method: string; type: string }): void {
  if (entry.type === 'AuditEvent' && entry.method !== 'GET' && entry.method !== 'HEAD') throw immutable();
}

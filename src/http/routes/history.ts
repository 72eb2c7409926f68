// _history at system, type and instance level (R4 http.html#history): newest first, _since, _count,
// and next links carrying a cursor on the global change sequence so pages never shift under writes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { historyBundle, type BundleLink } from '../../fhir/bundles.js';
import { parseFhirDateTime } from '../../fhir/datetime.js';
import { badRequest } from '../../fhir/outcome.js';
import type { HistoryQuery } from '../../fhir/repository.js';
import type { RouteContext } from '../context.js';
import { searchParams } from '../negotiation.js';
import { baseUrlOf, sendJson } from '../responses.js';
import { asViewer, viewerOf } from '../viewer.js';

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const DATE_ONLY = /^\d{4}(-\d{2}(-\d{2})?)?$/;

function parseHistoryParams(params: URLSearchParams, maxCount: number): Omit<HistoryQuery, 'resourceType' | 'id'> {
  const query: Omit<HistoryQuery, 'resourceType' | 'id'> = { count: Math.min(50, maxCount) };
  const since = params.get('_since');
  if (since !== null) {
    if (!INSTANT.test(since) && !DATE_ONLY.test(since)) throw badRequest(`_since must be an instant like 2026-01-01T00:00:00Z, got '${since}'`);
    // The shared FHIR date reader: 2026-02-30 is refused, not rolled over to March 2 as Date would.
    const value = parseFhirDateTime(since);
    if (!value) throw badRequest(`_since is not a valid instant: '${since}'`);
    query.since = new Date(value.low).toISOString();
  }
  const count = params.get('_count');
  if (count !== null) {
    if (!/^\d{1,6}$/.test(count)) throw badRequest(`_count must be a non-negative integer, got '${count}'`);
    query.count = Math.min(Number(count), maxCount);
  }
  const cursor = params.get('_cursor');
  if (cursor !== null) {
    if (!/^\d{1,15}$/.test(cursor)) throw badRequest(`_cursor is not valid: '${cursor}'`);
    query.before = Number(cursor);
  }
  if (params.has('_at')) throw badRequest('_at is not supported on _history; use _since');
  return query;
}

function links(request: FastifyRequest, baseUrl: string, next: number | undefined): BundleLink[] {
  const params = searchParams(request);
  const path = request.url.split('?')[0]!.replace(/^\/fhir/, '');
  const self = `${baseUrl}${path}${params.size ? `?${params.toString()}` : ''}`;
  const out: BundleLink[] = [{ relation: 'self', url: self }];
  if (next !== undefined) {
    params.set('_cursor', String(next));
    out.push({ relation: 'next', url: `${baseUrl}${path}?${params.toString()}` });
  }
  return out;
}

export function historyRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const handler = async (request: FastifyRequest<{ Params: { type?: string; id?: string } }>) => {
    const base = baseUrlOf(request, ctx.configuredBaseUrl);
    const query: HistoryQuery = { ...parseHistoryParams(searchParams(request), ctx.maxHistoryCount) };
    if (request.params.type) query.resourceType = request.params.type;
    if (request.params.id) query.id = request.params.id;
    if (query.resourceType && query.id) await ctx.service.read(query.resourceType, query.id, asViewer(request)).catch((err: unknown) => {
      // History of a deleted resource is still served; only an unknown resource is 404.
      if ((err as { status?: number }).status !== 410) throw err;
    });
    const page = await ctx.service.history(query, viewerOf(request));
    return historyBundle(page, base, links(request, base, page.next));
  };
  app.get('/_history', async (req, reply) => sendJson(reply, 200, await handler(req as FastifyRequest<{ Params: object }>)));
  app.get<{ Params: { type: string } }>('/:type/_history', async (req, reply) => sendJson(reply, 200, await handler(req)));
  app.get<{ Params: { type: string; id: string } }>('/:type/:id/_history', async (req, reply) => sendJson(reply, 200, await handler(req)));
}

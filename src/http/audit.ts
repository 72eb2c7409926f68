// The audit trail's HTTP side: every request to /fhir and to the token endpoint becomes an AuditEvent
// (src/audit builds it). A successful write's AuditEvent is inserted in the write's own transaction
// (writeAudit, passed to the service as beforeCommit); every other event (reads, searches, refusals,
// failed writes after their rollback, token requests) is stored by the onSend hook before the answer
// leaves, through the group-committing recorder. If it cannot be stored a successful answer becomes a 503
// (the data is withheld); a refusal leaves as it is; a 5xx answer does not wait for its event.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { CodeSystems } from '../coordination/codes.js';
import { buildAuditRecord, type AuditFacts, type TouchedResource } from '../audit/balp.js';
import { disclosuresOf, memberOf, membersOfQuery } from '../audit/facts.js';
import { interactionOfMethod, isInstanceLevel, type AuditedInteraction } from '../audit/interactions.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { AuditStore } from '../audit/types.js';
import { FhirError, issue, outcome } from '../fhir/outcome.js';
import type { BeforeCommit, WriteSession } from '../fhir/resource-service.js';
import { COORDINATION_FORM_OPERATION } from '../fhir/coordination-form/service.js';
import { accessRequestOf, PUBLIC_ROUTES } from './access.js';
import { header, jsonContentType, searchParams } from './negotiation.js';
import { baseUrlOf } from './responses.js';

export interface AuditServices {
  store: AuditStore;
  recorder: AuditRecorder;
}

/** What the token endpoint tells the audit about a token request (the client it authenticated, why it refused). */
export interface TokenAuditNote {
  clientId?: string;
  reason?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The error the request failed with, for the AuditEvent (disclosures, outcome). */
    auditError: unknown;
    /** True once the request's own AuditEvent went into a write transaction. */
    auditedInTransaction: boolean;
    /** Set by the token endpoint. */
    tokenAudit: TokenAuditNote | null;
    /** The in-transaction audit hook of this request's writes; null when auditing is off. */
    auditBeforeCommit: BeforeCommit | null;
    /** What a read-like operation disclosed (the resources $coordination-form shows), set by its route. */
    auditDisclosed: TouchedResource[] | null;
  }
}

type Req = FastifyRequest<{ Params: Record<string, string | undefined> }>;

const TOKEN_PATH = '/auth/token';
/** The conformance documents (no health data, fetched by every client and probe) are not audited. */
const UNAUDITED = new Set([...PUBLIC_ROUTES]);

function audited(request: FastifyRequest): boolean {
  if (request.method === 'OPTIONS') return false;
  const path = request.url.split('?')[0]!;
  if (path === TOKEN_PATH) return true;
  if (!(path === '/fhir' || path.startsWith('/fhir/'))) return false;
  return !UNAUDITED.has(request.routeOptions.url ?? '');
}

const METHOD_INTERACTION: Record<string, AuditedInteraction> = { GET: 'read', HEAD: 'read', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** The interaction a /fhir request performs, from the route it matched (access.ts decides the same for scopes). */
function interactionOf(request: Req): { interaction: AuditedInteraction; operation?: string } {
  if (request.url.split('?')[0] === TOKEN_PATH) return { interaction: 'token' };
  const access = request.routeOptions.url ? accessRequestOf(request) : 'unmapped';
  if (access === 'bundle') {
    const type = (request.body as { type?: unknown } | undefined)?.type;
    return { interaction: type === 'batch' ? 'batch' : 'transaction' };
  }
  if (access === 'admin') return { interaction: 'operation', operation: 'import' };
  if (access === 'none' || access === 'unmapped') return { interaction: METHOD_INTERACTION[request.method] ?? 'operation' };
  // Audited as a read of the member (BALP action R), naming the operation.
  if (request.routeOptions.url?.endsWith(`/$${COORDINATION_FORM_OPERATION}`)) return { interaction: 'read', operation: COORDINATION_FORM_OPERATION };
  switch (access.interaction) {
    case 'validate':
      return { interaction: 'operation', operation: 'validate' };
    default:
      return { interaction: access.interaction };
  }
}

/** The query of a search, history or conditional interaction, as sent (form body of POST _search included). */
function queryOf(request: Req, interaction: AuditedInteraction): URLSearchParams | undefined {
  const params = searchParams(request);
  if (request.body instanceof URLSearchParams) for (const [k, v] of request.body) params.append(k, v);
  const ifNoneExist = interaction === 'create' ? header(request, 'if-none-exist') : undefined;
  if (ifNoneExist !== undefined) return new URLSearchParams(ifNoneExist.replace(/^[^?]*\?/, ''));
  return params.size > 0 ? params : undefined;
}

function typeOf(request: Req): string | undefined {
  const fromRoute = request.params.type ?? /^\/fhir\/(AuditEvent)(?:[/?]|$)/.exec(request.url)?.[1];
  return fromRoute && /^[A-Z][A-Za-z]{1,63}$/.test(fromRoute) ? fromRoute : undefined;
}

function versionOfEtag(reply: FastifyReply): number | undefined {
  const etag = reply.getHeader('etag');
  const m = typeof etag === 'string' ? /^W\/"(\d+)"$/.exec(etag) : null;
  return m ? Number(m[1]) : undefined;
}

function issuesOf(err: unknown): OperationOutcomeIssue[] {
  return err instanceof FhirError ? err.issues : [];
}

/**
 * A batch answers 200 with each entry's refusal inside: the rule issues of its entries (parsed only when
 * the answer mentions a rule at all, so an ordinary batch is not parsed again).
 */
function batchRuleIssues(payload: unknown): OperationOutcomeIssue[] {
  if (typeof payload !== 'string' || !payload.includes(CodeSystems.rule)) return [];
  const bundle = JSON.parse(payload) as Bundle;
  return (bundle.entry ?? []).flatMap((e) => e.response?.outcome?.issue ?? []);
}

/** The facts every AuditEvent of this request shares. */
function baseFacts(request: Req, configuredBaseUrl: string | undefined, interaction: AuditedInteraction, operation?: string): AuditFacts {
  const type = typeOf(request);
  const token = interaction === 'token';
  const auth = request.auth;
  const clientId = token ? (request.tokenAudit?.clientId) : auth?.clientId;
  return {
    recorded: new Date(),
    interaction,
    ...(operation ? { operation } : {}),
    status: 200,
    requestor: { ...(clientId ? { clientId } : {}), ...(!token && auth?.organization ? { organization: auth.organization } : {}), address: request.ip },
    ...(type ? { resourceType: type } : {}),
    serverAddress: token ? `${baseUrlOf(request, configuredBaseUrl).replace(/\/fhir$/, '')}${TOKEN_PATH}` : baseUrlOf(request, configuredBaseUrl),
  };
}

/** The AuditEvent of a request answered without a committed write (or whose write failed). */
function answeredFacts(request: Req, reply: FastifyReply, payload: unknown, configuredBaseUrl: string | undefined): AuditFacts {
  const { interaction, operation } = interactionOf(request);
  const facts = baseFacts(request, configuredBaseUrl, interaction, operation);
  facts.status = reply.statusCode;
  const type = facts.resourceType;
  const id = request.params.id;
  const resources: TouchedResource[] = [];
  if (type && id) {
    const versionId = request.params.vid && /^\d{1,9}$/.test(request.params.vid) ? Number(request.params.vid) : reply.statusCode < 300 && interaction === 'read' ? versionOfEtag(reply) : undefined;
    resources.push({ reference: `${type}/${id}`, ...(versionId !== undefined ? { versionId } : {}) });
  }
  const patients: string[] = type === 'Patient' && id ? [`Patient/${id}`] : [];
  const query = interaction === 'token' ? undefined : queryOf(request, interaction);
  if (query && !isInstanceLevel(interaction)) {
    facts.query = query.toString();
    patients.push(...membersOfQuery(type, query));
  }
  const body = request.body as (Resource & { resourceType?: string }) | undefined;
  if (interaction !== 'token' && body && typeof body === 'object' && !(body instanceof URLSearchParams) && (interaction === 'create' || interaction === 'update')) {
    const member = memberOf(body);
    if (member) patients.push(member);
  }
  const error = request.auditError;
  const batchIssues = interaction === 'batch' ? batchRuleIssues(payload) : [];
  if (error || batchIssues.length > 0) {
    const issues = [...issuesOf(error), ...batchIssues];
    const codes = error ? [...new Set(issues.map((i) => i.code))].join(', ') : '';
    if (codes) facts.outcomeText = codes;
    const own = new Set<string>([...resources.map((r) => r.reference), ...(body?.resourceType && body.id ? [`${body.resourceType}/${body.id}`] : []), ...(request.auth?.organization ? [request.auth.organization] : [])]);
    const disclosures = disclosuresOf(issues, own);
    if (disclosures.length > 0) facts.disclosures = disclosures;
  }
  if (interaction === 'token' && request.tokenAudit?.reason && reply.statusCode >= 400) facts.outcomeText = request.tokenAudit.reason;
  // A read-like operation names every resource it disclosed, each at the version shown.
  if (request.auditDisclosed && reply.statusCode < 300) resources.splice(0, resources.length, ...request.auditDisclosed);
  if (resources.length > 0) facts.resources = resources;
  if (patients.length > 0) facts.patients = patients;
  return facts;
}

/** The AuditEvent of a committed write: the versions the transaction wrote. */
function writeFacts(request: Req, session: WriteSession, configuredBaseUrl: string | undefined): AuditFacts | undefined {
  const { interaction: requested, operation } = interactionOf(request);
  const first = session.written[0];
  // A batch entry is its own transaction and its own interaction; a batch entry that wrote nothing
  // is covered by the batch's event.
  if (requested === 'batch' && !first) return undefined;
  const interaction = requested === 'batch' ? interactionOfMethod(first!.method) : requested;
  const facts = baseFacts(request, configuredBaseUrl, interaction, operation);
  facts.status = interaction === 'create' && session.written.some((w) => w.version.versionId === 1) ? 201 : 200;
  const resources: TouchedResource[] = session.written.map((w) => ({ reference: `${w.version.resourceType}/${w.version.id}`, versionId: w.version.versionId }));
  // Nothing written (already deleted, a conditional create that matched): the resource addressed.
  if (resources.length === 0 && facts.resourceType && request.params.id) resources.push({ reference: `${facts.resourceType}/${request.params.id}` });
  if (resources.length > 0) facts.resources = resources;
  const query = requested === 'batch' || requested === 'transaction' ? undefined : queryOf(request, interaction);
  if (query && !isInstanceLevel(interaction)) facts.query = query.toString();
  const patients = session.writes.flatMap((w) => [memberOf(w.resource), memberOf(w.previous)]).filter((p): p is string => p !== undefined);
  if (patients.length > 0) facts.patients = patients;
  return facts;
}

/** For logs: never the SQL, its values or the event. */
function errorSummary(err: unknown): { name?: string; code?: unknown } {
  return err instanceof Error ? { name: err.name, code: (err as { code?: unknown }).code } : {};
}

function unavailable(reply: FastifyReply): string {
  for (const name of ['etag', 'location', 'content-location', 'last-modified']) reply.removeHeader(name);
  reply.code(503).header('content-type', jsonContentType(reply.request)).header('Retry-After', '5');
  return JSON.stringify(outcome([issue('transient', 'The request could not be audited, so its answer is withheld; retry shortly')]));
}

/** Registers the audit hooks on the root instance, before any route is declared. */
export function registerAudit(app: FastifyInstance, audit: AuditServices, configuredBaseUrl: string | undefined): void {
  app.decorateRequest('auditError', null);
  app.decorateRequest('auditedInTransaction', false);
  app.decorateRequest('tokenAudit', null);
  app.decorateRequest('auditBeforeCommit', null);
  app.decorateRequest('auditDisclosed', null);
  app.addHook('onRequest', (request, _reply, done) => {
    if (audited(request)) {
      request.auditBeforeCommit = async (session) => {
        const facts = writeFacts(request as Req, session, configuredBaseUrl);
        if (!facts) return;
        await session.tx.appendAuditEvents([buildAuditRecord(facts)]);
        // A batch's own event is recorded when it answers; a transaction's or single write's is this one.
        if (interactionOf(request as Req).interaction !== 'batch') request.auditedInTransaction = true;
      };
    }
    done();
  });
  app.addHook('onError', (request, _reply, err, done) => {
    request.auditError = err;
    done();
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!audited(request)) return payload;
    // A write answered with success committed its event with it; one that failed after its
    // transaction committed (rare) gets a second, failed, event here.
    if (request.auditedInTransaction && reply.statusCode < 400) return payload;
    const stored = audit.recorder.record(buildAuditRecord(answeredFacts(request as Req, reply, payload, configuredBaseUrl)));
    // A server failure carries no data and usually means the database is struggling: its event is
    // recorded without holding the answer back behind it (and logged if it is lost).
    if (reply.statusCode >= 500) {
      stored.catch((err: unknown) => request.log.error({ err: errorSummary(err) }, 'AuditEvent of a failed request could not be stored'));
      return payload;
    }
    try {
      await stored;
      return payload;
    } catch (err) {
      // A refusal carries no data to withhold: it leaves as it is.
      if (reply.statusCode >= 400) {
        request.log.error({ err: errorSummary(err) }, 'AuditEvent of a refused request could not be stored');
        return payload;
      }
      request.log.error({ err: errorSummary(err) }, 'AuditEvent could not be stored; answer withheld');
      return unavailable(reply);
    }
  });
}

/** The audit hook a write route passes to the service ({} when auditing is off). */
export function writeAudit(request: FastifyRequest): { beforeCommit?: BeforeCommit } {
  return request.auditBeforeCommit ? { beforeCommit: request.auditBeforeCommit } : {};
}

/** For a read-like operation: the resources its answer disclosed (`Type/id` and version). */
export function noteDisclosed(request: FastifyRequest, resources: TouchedResource[]): void {
  request.auditDisclosed = resources;
}

/** For the token endpoint: what the AuditEvent should say about the request. */
export function noteTokenRequest(request: FastifyRequest, note: TokenAuditNote): void {
  request.tokenAudit = note;
}

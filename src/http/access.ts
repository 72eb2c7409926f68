// Which FHIR interaction a matched route performs, for the scope check (src/auth/authorize.ts). Keyed by
// the route pattern fastify matched, so a new route without an entry here is refused (403), not opened.
import type { FastifyRequest } from 'fastify';
import type { AccessRequest } from '../auth/authorize.js';
import { COORDINATION_FORM_READS } from '../fhir/coordination-form/service.js';
import { header, preferences, searchParams } from './negotiation.js';

/** The websocket endpoint: open to connect, but a socket only ever receives what a binding token allows. */
export const WEBSOCKET_PATH = '/fhir/ws';

/** Routes under /fhir anyone may call. */
export const PUBLIC_ROUTES = new Set(['/fhir/metadata', '/fhir/.well-known/smart-configuration', WEBSOCKET_PATH]);

type Req = FastifyRequest<{ Params: Record<string, string | undefined> }>;

function allParams(request: Req): URLSearchParams {
  const params = searchParams(request);
  if (request.body instanceof URLSearchParams) for (const [k, v] of request.body) params.append(k, v);
  return params;
}

function typesOf(params: URLSearchParams): string[] {
  return params
    .getAll('_type')
    .flatMap((v) => v.split(','))
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function validateMode(request: Req): 'create' | 'update' | 'delete' {
  const body = request.body as { resourceType?: string; parameter?: { name?: string; valueCode?: string }[] } | undefined;
  const fromBody = body?.resourceType === 'Parameters' ? body.parameter?.find((p) => p.name === 'mode')?.valueCode : undefined;
  const mode = fromBody ?? searchParams(request).get('mode') ?? (request.params.id ? 'update' : 'create');
  return mode === 'delete' ? 'delete' : mode === 'create' ? 'create' : 'update';
}

/** Route patterns whose other methods only answer 405 (routes/method-not-allowed.ts). */
const KNOWN_PATTERNS = new Set(['/', '/_search', '/_history', '/:type', '/:type/_search', '/:type/_history', '/:type/$validate', '/:type/:id', '/:type/:id/_history', '/:type/:id/$validate', '/:type/:id/_history/:vid', '/AuditEvent', '/AuditEvent/:id']);

/**
 * The access request of a /fhir route, 'bundle' for POST [base] (each entry is checked by the Bundle
 * service), 'admin' for routes only administrative clients may call (the Bulk Data $import operation:
 * it writes any resource of any member), 'none' for method/route pairs that only ever answer 405, and 'unmapped' for a route this
 * table does not know (refused, so a new route is closed until it is mapped here).
 */
export function accessRequestOf(request: Req): AccessRequest | 'bundle' | 'admin' | 'none' | 'unmapped' {
  const url = request.routeOptions.url ?? '';
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const type = request.params.type;
  const key = `${method} ${url.replace(/^\/fhir/, '') || '/'}`;
  switch (key) {
    case 'GET /':
    case 'POST /_search':
      return { interaction: 'search-system', types: typesOf(allParams(request)), query: allParams(request), strict: preferences(request).handling === 'strict' };
    case 'POST /':
      return 'bundle';
    case 'GET /_history':
      return { interaction: 'history-system' };
    case 'GET /:type':
    case 'POST /:type/_search':
      return { interaction: 'search-type', type, query: allParams(request), strict: preferences(request).handling === 'strict' };
    case 'POST /:type': {
      const ifNoneExist = header(request, 'if-none-exist');
      if (ifNoneExist === undefined || type === undefined) return { interaction: 'create', type, conditional: false };
      return { interaction: 'create', type, conditional: true, criteria: [{ type, query: ifNoneExist }] };
    }
    case 'PUT /:type':
      return { interaction: 'update', type, conditional: true, ...(type ? { criteria: [{ type, query: searchParams(request) }] } : {}) };
    case 'DELETE /:type':
      return { interaction: 'delete', type, conditional: true, ...(type ? { criteria: [{ type, query: searchParams(request) }] } : {}) };
    case 'GET /:type/_history':
      return { interaction: 'history-type', type };
    case 'GET /:type/:id':
      return { interaction: 'read', type };
    // AuditEvents have their own routes (routes/audit-event.ts); writing them answers 405 ('none').
    case 'GET /AuditEvent/:id':
      return { interaction: 'read', type: 'AuditEvent' };
    case 'GET /AuditEvent':
    case 'POST /AuditEvent/_search':
      return { interaction: 'search-type', type: 'AuditEvent', query: allParams(request) };
    case 'PUT /:type/:id':
      return { interaction: 'update', type };
    case 'PATCH /:type/:id':
      return { interaction: 'patch', type };
    case 'DELETE /:type/:id':
      return { interaction: 'delete', type };
    case 'GET /:type/:id/_history':
      return { interaction: 'history-instance', type };
    case 'GET /:type/:id/_history/:vid':
      return { interaction: 'vread', type };
    // Subscription operations read the Subscription's own state and events; a websocket binding token
    // opens that Subscription's notifications, so it needs the same read access.
    case 'GET /Subscription/:id/$status':
    case 'POST /Subscription/:id/$status':
    case 'GET /Subscription/:id/$events':
    case 'POST /Subscription/:id/$events':
    case 'GET /Subscription/:id/$get-ws-binding-token':
    case 'POST /Subscription/:id/$get-ws-binding-token':
      return { interaction: 'read', type: 'Subscription' };
    // A read of the member that also searches their record and reads the directory it names.
    case 'GET /Patient/:id/$coordination-form':
    case 'POST /Patient/:id/$coordination-form':
      return { interaction: 'read', type: 'Patient', also: COORDINATION_FORM_READS };
    case 'POST /$import':
    case 'GET /$import-status/:id':
    case 'DELETE /$import-status/:id':
    case 'GET /$import-status/:id/errors/:index':
      return 'admin';
    case 'POST /:type/$validate':
    case 'POST /:type/:id/$validate':
      return { interaction: 'validate', type, validates: validateMode(request) };
    default:
      return KNOWN_PATTERNS.has(url.replace(/^\/fhir/, '') || '/') ? 'none' : 'unmapped';
  }
}

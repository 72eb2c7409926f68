// Per-request authentication (bearer access token -> AuthContext) and the scope check of each FHIR
// interaction, including every type its search parameters and conditional criteria reach (ADR 0010).
// The client is checked on every request against the registry's cache, which every change empties on
// every instance, so disabling a client, narrowing its scopes or moving it to another organization takes
// effect at once, not when its tokens expire; the token's scopes are intersected with what is registered now.
import { FhirError, issue } from '../fhir/outcome.js';
import type { AccessTokens } from './access-tokens.js';
import type { ClientRegistry, RegisteredClient } from './clients.js';
import type { AuthContext } from './context.js';
import { grantScopes, ScopeSet, type Permission } from './scopes.js';
import { isResourceType } from '../fhir/definitions.js';
import { criteriaText, reachOfCriteria } from '../fhir/search/criteria.js';
import { reachOfSearch, type Reach } from '../fhir/search/reach.js';
import type { EntryAccess } from '../fhir/bundle-service.js';

export type Interaction =
  | 'read'
  | 'vread'
  | 'history-instance'
  | 'search-type'
  | 'history-type'
  | 'search-system'
  | 'history-system'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'validate';

const PERMISSION: Record<Interaction, Permission> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'search-type': 's',
  'history-type': 's',
  'search-system': 's',
  'history-system': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
  validate: 'c',
};

export interface AccessRequest {
  interaction: Interaction;
  /** Resource type; undefined for system-level interactions. */
  type?: string;
  /** System search limited by _type: each named type needs search. */
  types?: string[];
  /** Conditional create/update/delete: the criteria are a search, so search is needed too. */
  conditional?: boolean;
  /** $validate: the interaction it stands for (create by default). */
  validates?: 'create' | 'update' | 'delete';
  /** A search's parameters: chains, _has, _list, _include and _revinclude reach other types. */
  query?: URLSearchParams;
  /** Prefer: handling=strict (the search then refuses unknown parameters instead of ignoring them). */
  strict?: boolean;
  /**
   * Conditional criteria (If-None-Exist, [type]?criteria, a transaction's conditional references
   * `Type?criteria`): each searches its type, and its chains, _has and _list reach further.
   */
  criteria?: { type: string; query: string | URLSearchParams }[];
  /** What an operation reads beyond its own type (e.g. $coordination-form: the member's record). */
  also?: readonly Required[];
}

export interface Required {
  /** A resource type or '*' (every type). */
  type: string;
  permission: Permission;
  /** Why a type other than the request's own is needed (refusal diagnostics). */
  why?: string;
}

function fromReach(reach: Reach[]): Required[] {
  return reach.map((r) => ({ type: r.type, permission: r.use === 'read' ? 'r' : 's', why: r.why }));
}

/**
 * What a search's parameters add: chains (every target type the chain searches: an untyped chain such
 * as `subject.name` needs search on each type it may reach, so naming the type needs less), _has (its
 * source type, at every level), _list (List), _revinclude (its source type) need search; _include
 * needs read on its target type, or on every type when it names none.
 */
export function searchReach(type: string | undefined, query: URLSearchParams, strict = false): Required[] {
  return fromReach(reachOfSearch(type, query, strict));
}

function criteriaReach(criteria: { type: string; query: string | URLSearchParams }): Required[] {
  const { type } = criteria;
  if (!isResourceType(type)) return [];
  const params = typeof criteria.query === 'string' ? new URLSearchParams(criteriaText(criteria.query)) : criteria.query;
  return [{ type, permission: 's', why: `the conditional criteria ${type}?… search ${type}` }, ...fromReach(reachOfCriteria(type, params))];
}

export function unauthorized(message: string): FhirError {
  return new FhirError(401, issue('login', message), { 'WWW-Authenticate': 'Bearer realm="concord"' });
}

function forbidden(message: string): FhirError {
  return new FhirError(403, issue('forbidden', message));
}

/** What the interaction itself needs, before the types its parameters reach. */
function ownPermissions(request: AccessRequest): Required[] {
  const { interaction, type } = request;
  if (interaction === 'search-system' || interaction === 'history-system') {
    if (interaction === 'search-system' && request.types?.length) return request.types.map((t) => ({ type: t, permission: 's' as const }));
    return [{ type: '*', permission: 's' }];
  }
  const t = type ?? '*';
  const permission = interaction === 'validate' ? ({ create: 'c', update: 'u', delete: 'd' } as const)[request.validates ?? 'create'] : PERMISSION[interaction];
  const out: Required[] = [{ type: t, permission }];
  if (request.conditional) out.push({ type: t, permission: 's' });
  return out;
}

/** What the request's search parameters and conditional criteria reach beyond its own type. */
function reachPermissions(request: AccessRequest): Required[] {
  const { interaction } = request;
  const out: Required[] = [];
  if (request.query && (interaction === 'search-type' || interaction === 'search-system')) {
    out.push(...searchReach(interaction === 'search-type' ? request.type : undefined, request.query, request.strict));
  }
  for (const c of request.criteria ?? []) out.push(...criteriaReach(c));
  out.push(...(request.also ?? []));
  return out;
}

/**
 * What an access request needs, as (type or '*', permission) pairs: the interaction's own first, then
 * what its search parameters and conditional criteria reach. Parsing the parameters may throw the
 * search's own 400 for a malformed one.
 */
export function requiredPermissions(request: AccessRequest): Required[] {
  return [...ownPermissions(request), ...reachPermissions(request)];
}

function check(auth: AuthContext, request: AccessRequest, required: Required[], where: string): void {
  for (const { type, permission, why } of required) {
    const ok = type === '*' ? auth.scopes.allowsAllTypes(permission) : auth.scopes.allows(type, permission);
    if (!ok) {
      const what = type === '*' ? 'every resource type' : type;
      throw forbidden(`${where}The access token's scopes do not allow ${request.interaction} on ${what} (needs system/${type}.${permission}${why ? `: ${why}` : ''})`);
    }
  }
}

/** Throws 403 (OperationOutcome `forbidden`) unless the granted scopes allow the request. */
export function assertAllowed(auth: AuthContext, request: AccessRequest, where = ''): void {
  // The interaction's own scope first: a client without it learns nothing from how its parameters parse.
  check(auth, request, ownPermissions(request), where);
  if (request.query || request.criteria || request.also) check(auth, request, reachPermissions(request), where);
}

/**
 * Throws 403 unless the client is administrative: it acts for no organization and its scopes allow
 * creating and updating every resource type (system/*.cu or more). Bulk operations ($import) write any
 * member's records at once, which no organization-scoped client may.
 */
export function assertAdministrative(auth: AuthContext): void {
  if (auth.organization) throw forbidden(`Only administrative clients may call this operation; this client acts for ${auth.organization}`);
  if (!auth.scopes.allowsAllTypes('c') || !auth.scopes.allowsAllTypes('u')) {
    throw forbidden('Only administrative clients may call this operation (needs system/*.cu or more, e.g. system/*.cruds)');
  }
}

/** Tokens remembered at most (a token is ~1 KB; the oldest is forgotten first). */
const SESSIONS_MAX = 10_000;
const BEARER = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i;

interface Session {
  client: RegisteredClient;
  context: AuthContext;
  /** The token's exp, in ms. */
  expiresAt: number;
}

export class Authenticator {
  /**
   * A verified token's context until the token expires, keyed by the token text: a client reuses its
   * token for every request of its 5 minutes, so the signature is checked and the scopes intersected
   * once. An entry is used only while the registry's cache still holds the same client object, which
   * every change to the client (disable, scopes, organization, keys) replaces on every instance.
   */
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly tokens: AccessTokens,
    private readonly registry: ClientRegistry,
  ) {}

  /**
   * The request's AuthContext from its Authorization header, or a 401 FhirError. Synchronous (no
   * promise) when the token was seen before and nothing about its client changed: the common case.
   */
  authenticate(authorization: string | undefined, now = Date.now()): AuthContext | Promise<AuthContext> {
    // A remembered token was well-formed when first seen: the exact-prefix lookup skips the regex.
    const remembered = authorization?.startsWith('Bearer ') ? this.sessions.get(authorization.slice(7)) : undefined;
    const m = remembered ? undefined : BEARER.exec(authorization ?? '');
    if (!remembered && !m) throw unauthorized(authorization ? 'The Authorization header is not a Bearer token' : 'An access token is required (Authorization: Bearer ...)');
    const token = m ? m[1]! : authorization!.slice(7);
    const known = remembered ?? this.sessions.get(token);
    if (known) {
      if (known.expiresAt <= now) {
        this.sessions.delete(token);
        throw unauthorized('The access token is not valid or has expired');
      }
      if (this.registry.cached?.(known.context.clientId) === known.client) return known.context;
    }
    return this.authenticateSlow(token, now);
  }

  private async authenticateSlow(token: string, now: number): Promise<AuthContext> {
    const claims = await this.tokens.verify(token, now);
    if (!claims) throw unauthorized('The access token is not valid or has expired');
    const client = await this.registry.get(claims.clientId);
    if (!client?.enabled) throw unauthorized('The access token is not valid or has expired');
    if ((client.organization ?? undefined) !== claims.organization) throw unauthorized('The access token is not valid or has expired');
    const known = this.sessions.get(token);
    if (known?.client === client) return known.context;
    const scopes = grantScopes(claims.scope, ScopeSet.parse(client.scopes));
    const context = { clientId: client.clientId, scopes, ...(client.organization ? { organization: client.organization } : {}) };
    this.sessions.delete(token);
    if (this.sessions.size >= SESSIONS_MAX) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(token, { client, context, expiresAt: claims.expiresAt * 1000 });
    return context;
  }
}

/** A transaction/batch entry's interaction. */
export function bundleEntryAccess(entry: Omit<EntryAccess, 'index'>): AccessRequest {
  const { type, conditional } = entry;
  const criteria: { type: string; query: string | URLSearchParams }[] = [];
  if (entry.method !== 'GET' && entry.method !== 'HEAD' && entry.query) criteria.push({ type, query: entry.query });
  if (entry.method === 'POST' && entry.ifNoneExist !== undefined) criteria.push({ type, query: entry.ifNoneExist });
  for (const ref of entry.conditionalReferences ?? []) {
    const at = ref.indexOf('?');
    criteria.push({ type: ref.slice(0, at), query: ref.slice(at + 1) });
  }
  const extra = criteria.length ? { criteria } : {};
  switch (entry.method) {
    case 'GET':
    case 'HEAD':
      if (entry.id === undefined) return { interaction: 'search-type', type, ...(entry.query ? { query: entry.query } : {}) };
      return { interaction: entry.versionId === undefined ? 'read' : 'vread', type };
    case 'POST':
      return { interaction: 'create', type, conditional, ...extra };
    case 'PUT':
      return { interaction: 'update', type, conditional, ...extra };
    case 'PATCH':
      return { interaction: 'patch', type, conditional, ...extra };
    default:
      return { interaction: 'delete', type, conditional, ...extra };
  }
}

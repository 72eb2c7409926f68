// Per-request authentication (bearer access token -> AuthContext) and the scope check of each FHIR
// interaction. The client is looked up on every request (one primary-key read), so disabling a client,
// narrowing its scopes or moving it to another organization takes effect at once, not when its tokens
// expire; the token's scopes are intersected with what is registered now.
import { FhirError, issue } from '../fhir/outcome.js';
import type { AccessTokens } from './access-tokens.js';
import type { ClientRegistry, RegisteredClient } from './clients.js';
import type { AuthContext } from './context.js';
import { grantScopes, ScopeSet, type Permission } from './scopes.js';

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
  /** A search's parameters: _include, _revinclude and _has reach other types, which need scopes too. */
  query?: URLSearchParams;
}

/**
 * What a search's _include / _revinclude / _has add: _revinclude=Source:param and _has:Source:... search
 * Source (s); _include=Source:param:Target reads Target (r), and an _include without a target type may
 * return any type, so it needs r on every type (name the target to need less).
 */
export function searchReach(query: URLSearchParams): { type: string; permission: Permission }[] {
  const out: { type: string; permission: Permission }[] = [];
  for (const [key, value] of query) {
    const name = key.split(':')[0];
    if (name === '_revinclude') out.push({ type: value.split(':')[0] || '*', permission: 's' });
    else if (name === '_include') out.push({ type: value.split(':')[2] || '*', permission: 'r' });
    else if (name === '_has') out.push({ type: key.split(':')[1] || '*', permission: 's' });
  }
  return out;
}

export function unauthorized(message: string): FhirError {
  return new FhirError(401, issue('login', message), { 'WWW-Authenticate': 'Bearer realm="concord"' });
}

function forbidden(message: string): FhirError {
  return new FhirError(403, issue('forbidden', message));
}

/** What an access request needs, as (type or '*', permission) pairs. */
export function requiredPermissions(request: AccessRequest): { type: string; permission: Permission }[] {
  const { interaction, type } = request;
  const reach = request.query && (interaction === 'search-type' || interaction === 'search-system') ? searchReach(request.query) : [];
  if (interaction === 'search-system' || interaction === 'history-system') {
    if (interaction === 'search-system' && request.types?.length) return [...request.types.map((t) => ({ type: t, permission: 's' as const })), ...reach];
    return [{ type: '*', permission: 's' }, ...reach];
  }
  const t = type ?? '*';
  const permission = interaction === 'validate' ? ({ create: 'c', update: 'u', delete: 'd' } as const)[request.validates ?? 'create'] : PERMISSION[interaction];
  const out: { type: string; permission: Permission }[] = [{ type: t, permission }];
  if (request.conditional) out.push({ type: t, permission: 's' });
  return [...out, ...reach];
}

/** Throws 403 (OperationOutcome `forbidden`) unless the granted scopes allow the request. */
export function assertAllowed(auth: AuthContext, request: AccessRequest, where = ''): void {
  for (const { type, permission } of requiredPermissions(request)) {
    const ok = type === '*' ? auth.scopes.allowsAllTypes(permission) : auth.scopes.allows(type, permission);
    if (!ok) {
      const what = type === '*' ? 'every resource type' : type;
      throw forbidden(`${where}The access token's scopes do not allow ${request.interaction} on ${what} (needs system/${type}.${permission})`);
    }
  }
}

const CONTEXTS_MAX = 10_000;

export class Authenticator {
  /** The context built for a token, valid while the registry returns the same (cached) client object. */
  private readonly contexts = new Map<string, { client: RegisteredClient; context: AuthContext }>();

  constructor(
    private readonly tokens: AccessTokens,
    private readonly registry: ClientRegistry,
  ) {}

  /** The request's AuthContext from its Authorization header, or a 401 FhirError. */
  async authenticate(authorization: string | undefined): Promise<AuthContext> {
    const m = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(authorization ?? '');
    if (!m) throw unauthorized(authorization ? 'The Authorization header is not a Bearer token' : 'An access token is required (Authorization: Bearer ...)');
    const claims = await this.tokens.verify(m[1]!);
    if (!claims) throw unauthorized('The access token is not valid or has expired');
    const client = await this.registry.get(claims.clientId);
    if (!client?.enabled) throw unauthorized('The access token is not valid or has expired');
    if ((client.organization ?? undefined) !== claims.organization) throw unauthorized('The access token is not valid or has expired');
    const memo = this.contexts.get(m[1]!);
    if (memo?.client === client) return memo.context;
    const scopes = grantScopes(claims.scope, ScopeSet.parse(client.scopes));
    const context = { clientId: client.clientId, scopes, ...(client.organization ? { organization: client.organization } : {}) };
    if (this.contexts.size >= CONTEXTS_MAX) this.contexts.clear();
    this.contexts.set(m[1]!, { client, context });
    return context;
  }
}

/** A transaction/batch entry's interaction (src/fhir/bundle-service.ts EntryAccess). */
export function bundleEntryAccess(entry: { method: string; type: string; id?: string; versionId?: string; conditional: boolean; query?: URLSearchParams }): AccessRequest {
  const { type, conditional } = entry;
  switch (entry.method) {
    case 'GET':
    case 'HEAD':
      if (entry.id === undefined) return { interaction: 'search-type', type, ...(entry.query ? { query: entry.query } : {}) };
      return { interaction: entry.versionId === undefined ? 'read' : 'vread', type };
    case 'POST':
      return { interaction: 'create', type, conditional };
    case 'PUT':
      return { interaction: 'update', type, conditional };
    case 'PATCH':
      return { interaction: 'patch', type, conditional };
    default:
      return { interaction: 'delete', type, conditional };
  }
}

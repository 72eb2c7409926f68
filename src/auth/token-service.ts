// The token endpoint's logic (OAuth 2.0 client credentials, RFC 6749 §4.4) for SMART Backend Services:
// client authentication by JWT assertion (private_key_jwt) or, where the deployment allows it, by client
// secret (client_secret_basic / client_secret_post). Errors carry only the RFC 6749 §5.2 `error` code;
// the reason is returned separately for the operator's log.
import { ASSERTION_TYPE, ClientAuthError, verifyClientAssertion, type AssertionDeps } from './assertion.js';
import type { AccessTokens } from './access-tokens.js';
import type { RegisteredClient } from './clients.js';
import { grantScopes, ScopeSet } from './scopes.js';
import { generateSecret, hashSecret, verifySecret } from './secrets.js';

export interface TokenRequest {
  form: Record<string, string | undefined>;
  /** The Authorization header, if any (client_secret_basic). */
  authorization?: string;
  /** This endpoint's absolute URL: the `aud` an assertion must carry. */
  tokenUrl: string;
}

export interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  /** For logs only. */
  clientId?: string;
  reason?: string;
}

export interface TokenServiceOptions extends AssertionDeps {
  tokens: AccessTokens;
  clientSecrets: boolean;
}

const DUMMY_HASH = await hashSecret(generateSecret());
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

function failure(status: number, error: string, reason: string, clientId?: string, headers: Record<string, string> = {}): TokenResponse {
  return { status, body: { error }, headers: { ...NO_STORE, ...headers }, reason, ...(clientId ? { clientId } : {}) };
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { id: decode(text.slice(0, colon)), secret: decode(text.slice(colon + 1)) };
}

export class TokenService {
  constructor(private readonly options: TokenServiceOptions) {}

  get clientSecretsAllowed(): boolean {
    return this.options.clientSecrets;
  }

  async handle(request: TokenRequest): Promise<TokenResponse> {
    const { form } = request;
    if (form.grant_type !== 'client_credentials') return failure(400, form.grant_type ? 'unsupported_grant_type' : 'invalid_request', 'grant_type');
    const basic = basicCredentials(request.authorization);
    let client: RegisteredClient;
    try {
      if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
        if (form.client_assertion_type !== ASSERTION_TYPE || !form.client_assertion) throw new ClientAuthError('client_assertion_type or client_assertion missing');
        if (basic || form.client_secret !== undefined) throw new ClientAuthError('more than one client authentication method');
        client = await verifyClientAssertion(form.client_assertion, request.tokenUrl, this.options);
        if (form.client_id !== undefined && form.client_id !== client.clientId) throw new ClientAuthError('client_id differs from the assertion', client.clientId);
      } else if (basic || form.client_secret !== undefined) {
        client = await this.secretClient(basic, form);
      } else {
        throw new ClientAuthError('no client authentication');
      }
    } catch (err) {
      if (!(err instanceof ClientAuthError)) throw err;
      // RFC 6749 §5.2: 401 with a challenge when the client tried the Authorization header.
      return basic
        ? failure(401, 'invalid_client', err.reason, err.clientId, { 'WWW-Authenticate': 'Basic realm="concord", charset="UTF-8"' })
        : failure(400, 'invalid_client', err.reason, err.clientId);
    }
    if (!form.scope) return failure(400, 'invalid_scope', 'no scope requested', client.clientId);
    const granted = grantScopes(form.scope, ScopeSet.parse(client.scopes));
    if (granted.scopes.length === 0) return failure(400, 'invalid_scope', 'no requested scope is registered for the client', client.clientId);
    const { token, expiresIn } = await this.options.tokens.issue(client.clientId, client.organization, granted);
    return {
      status: 200,
      body: { access_token: token, token_type: 'bearer', expires_in: expiresIn, scope: granted.toString() },
      headers: NO_STORE,
      clientId: client.clientId,
    };
  }

  private async secretClient(basic: { id: string; secret: string } | undefined, form: Record<string, string | undefined>): Promise<RegisteredClient> {
    if (basic && form.client_secret !== undefined) throw new ClientAuthError('more than one client authentication method');
    const id = basic?.id ?? form.client_id;
    const secret = basic?.secret ?? form.client_secret;
    if (!id || secret === undefined) throw new ClientAuthError('client_id or client_secret missing');
    if (basic && form.client_id !== undefined && form.client_id !== id) throw new ClientAuthError('client_id differs from the Authorization header', id);
    if (!this.options.clientSecrets) throw new ClientAuthError('client secrets are disabled on this deployment', id);
    const client = await this.options.registry.get(id);
    // An unknown client costs the same scrypt run as a known one: timing does not reveal registered ids.
    if (!(await verifySecret(secret, client?.secretHash ?? DUMMY_HASH)) || !client?.secretHash) throw new ClientAuthError('unknown client or wrong secret', id);
    if (!client.enabled) throw new ClientAuthError('client is disabled', id);
    return client;
  }
}

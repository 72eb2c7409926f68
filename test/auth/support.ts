// Helpers for the access-control tests: a server with authentication on, registered clients with real
// key pairs, and signed client assertions.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import type { RegisteredClient } from '../../src/auth/clients.js';
import { hashSecret } from '../../src/auth/secrets.js';
import { startTestServer, type TestServer } from '../support/server.js';
import type { Backend } from '../support/db.js';

export const TOKEN_URL = 'http://concord.test/auth/token';
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export async function startAuthServer(env: Record<string, string> = {}, backend?: Backend): Promise<TestServer> {
  return startTestServer(backend, { CONCORD_AUTH: 'on', ...env });
}

export interface TestClient {
  id: string;
  kid: string;
  alg: 'RS384' | 'ES384';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKeys(id: string, alg: 'RS384' | 'ES384' = 'ES384'): Promise<TestClient> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${id}-key-1`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg };
  return { id, kid, alg, privateKey, publicJwk };
}

export async function registerClient(
  server: TestServer,
  id: string,
  options: { alg?: 'RS384' | 'ES384'; scopes?: string; organization?: string; secret?: string; enabled?: boolean; jwksUrl?: string } = {},
): Promise<TestClient> {
  const keys = await makeKeys(id, options.alg);
  const client: RegisteredClient = {
    clientId: id,
    scopes: options.scopes ?? 'system/*.cruds',
    enabled: options.enabled ?? true,
    ...(options.jwksUrl ? { jwksUrl: options.jwksUrl } : { jwks: { keys: [keys.publicJwk] } }),
    ...(options.organization ? { organization: options.organization } : {}),
    ...(options.secret ? { secretHash: await hashSecret(options.secret) } : {}),
  };
  await server.clients!.add(client);
  return keys;
}

export interface AssertionOverrides {
  iss?: string;
  sub?: string;
  aud?: string;
  expIn?: number;
  jti?: string;
  kid?: string;
  header?: Record<string, unknown>;
}

export async function assertion(client: TestClient, o: AssertionOverrides = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: client.alg, typ: 'JWT', kid: o.kid ?? client.kid, ...o.header })
    .setIssuer(o.iss ?? client.id)
    .setSubject(o.sub ?? client.id)
    .setAudience(o.aud ?? TOKEN_URL)
    .setExpirationTime(now + (o.expIn ?? 240))
    .setJti(o.jti ?? randomUUID())
    .sign(client.privateKey);
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export async function tokenRequest(server: TestServer, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return server.request({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: form(fields) });
}

export async function requestToken(server: TestServer, client: TestClient, scope = 'system/*.cruds', o: AssertionOverrides = {}) {
  return tokenRequest(server, { grant_type: 'client_credentials', scope, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(client, o) });
}

export async function accessToken(server: TestServer, client: TestClient, scope = 'system/*.cruds'): Promise<string> {
  const res = await requestToken(server, client, scope);
  if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode} ${res.body}`);
  return (JSON.parse(res.body) as { access_token: string }).access_token;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

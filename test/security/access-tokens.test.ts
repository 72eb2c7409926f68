// Forged, stale and revoked credentials against the FHIR API and the token endpoint, over HTTP: every
// probe is refused (401 with WWW-Authenticate: Bearer on the API, 400 invalid_client at the token
// endpoint) and changes nothing. The token endpoint's assertion checks one by one (wrong aud, expired,
// reused jti, unknown kid, alg none, HS256 with the public key, disabled client) are in
// test/auth/token.test.ts; the scope checks in test/auth/access.test.ts and scope-reach.test.ts.
import { createPublicKey, createHmac, randomUUID, type JsonWebKey } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, type TestServer } from '../support/server.js';
import { ASSERTION_TYPE, accessToken, assertion, bearer, registerClient, requestToken, startAuthServer, tokenRequest, type TestClient } from '../auth/support.js';

let server: TestServer;
let client: TestClient;
let serverKey: { kid: string; privateJwk: JWK };

const ISSUER = 'urn:concord:auth';
const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);
const claims = (o: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: ISSUER, sub: 'api-client', client_id: 'api-client', organization: 'Organization/plan-a', scope: 'system/*.cruds', iat: nowS(), exp: nowS() + 120, jti: randomUUID(), ...o });

/** A token signed with the server's own signing key (as a thief of nothing but the claims' shape could not). */
async function serverSigned(payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: serverKey.kid, ...header }).sign(await importJWK(serverKey.privateJwk, 'ES256'));
}

async function patientCount(): Promise<number> {
  const admin = await accessToken(server, await registerClient(server, `counter-${randomUUID()}`));
  const res = await server.request({ method: 'GET', url: '/fhir/Patient?_summary=count&_total=accurate', headers: bearer(admin) });
  return (JSON.parse(res.body) as { total: number }).total;
}

beforeAll(async () => {
  server = await startAuthServer();
  client = await registerClient(server, 'api-client', { organization: 'Organization/plan-a' });
  // The server creates its signing key at startup; read it from the database as only an insider could.
  const { rows } = await server.db.query<{ kid: string; private_jwk: JWK | string }>('SELECT kid, private_jwk FROM auth_signing_key');
  const row = rows[0]!;
  serverKey = { kid: row.kid, privateJwk: typeof row.private_jwk === 'string' ? (JSON.parse(row.private_jwk) as JWK) : row.private_jwk };
});
afterAll(async () => server.close());

describe('the FHIR API refuses every forged, stale or revoked access token and changes nothing', () => {
  it('probes', async () => {
    const { d: _d, ...publicJwk } = serverKey.privateJwk;
    const publicPem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    const other = await generateKeyPair('ES256', { extractable: true });
    const hs256 = (secret: string) => {
      const input = `${enc({ alg: 'HS256', typ: 'at+jwt', kid: serverKey.kid })}.${enc(claims())}`;
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };
    const probes: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['another scheme', { authorization: `Basic ${Buffer.from('api-client:x').toString('base64')}` }],
      ['not a JWT', bearer('not-a-token')],
      ['expired', bearer(await serverSigned(claims({ iat: nowS() - 400, exp: nowS() - 5 })))],
      ['wrong aud', bearer(await serverSigned(claims({ aud: 'https://other.example/fhir' })))],
      ['wrong iss', bearer(await serverSigned(claims({ iss: 'https://other.example' })))],
      ['typ other than at+jwt', bearer(await serverSigned(claims(), { typ: 'JWT' }))],
      ['alg none', bearer(`${enc({ alg: 'none', typ: 'at+jwt', kid: serverKey.kid })}.${enc(claims())}.`)],
      ['HS256 with the server public key (JWK) as secret', bearer(hs256(JSON.stringify(publicJwk)))],
      ['HS256 with the server public key (PEM) as secret', bearer(hs256(publicPem))],
      ['unknown kid', bearer(await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: randomUUID() }).sign(other.privateKey))],
      ['another signing key under the server kid', bearer(await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: serverKey.kid }).sign(other.privateKey))],
      ['a client that does not exist', bearer(await serverSigned(claims({ sub: 'nobody', client_id: 'nobody' })))],
      ['an organization other than the client registration', bearer(await serverSigned(claims({ organization: 'Organization/plan-b' })))],
      ['a tampered payload', bearer((await serverSigned(claims({ scope: 'system/Patient.r' }))).replace(/\.[^.]+\./, `.${enc(claims())}.`))],
    ];
    const before = await patientCount();
    for (const [name, headers] of probes) {
      const read = await server.request({ method: 'GET', url: '/fhir/Patient', headers });
      expect(read.statusCode, name).toBe(401);
      expect(read.headers['www-authenticate'], name).toMatch(/^Bearer/);
      expect((JSON.parse(read.body) as { issue: { code: string }[] }).issue[0]!.code, name).toBe('login');
      const write = await server.request({ method: 'POST', url: '/fhir/Patient', headers: { ...headers, 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', name: [{ family: 'Forged' }] } });
      expect(write.statusCode, name).toBe(401);
    }
    expect(await patientCount()).toBe(before);
    // The genuine token of the same client works: the refusals were about the tokens.
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(await accessToken(server, client)) })).statusCode).toBe(200);
  });

  it('a revoked (disabled) client: its live token stops at once, no new token is issued, re-enabling restores both', async () => {
    const c = await registerClient(server, 'revoked', { organization: 'Organization/plan-a' });
    const token = await accessToken(server, c);
    const read = async () => (await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(token) })).statusCode;
    expect(await read()).toBe(200);
    await server.clients!.setEnabled('revoked', false);
    expect(await read()).toBe(401);
    const refused = await requestToken(server, c);
    expect(refused.statusCode).toBe(400);
    expect(JSON.parse(refused.body)).toEqual({ error: 'invalid_client' });
    await server.clients!.setEnabled('revoked', true);
    expect(await read()).toBe(200);
  });
});

describe('the token endpoint refuses without side effects', () => {
  it('an assertion signed by another key under the registered kid is invalid_client', async () => {
    const impostor = await generateKeyPair('ES384', { extractable: true });
    const res = await requestToken(server, { ...client, privateKey: impostor.privateKey });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_client' });
    // Nothing about the impostor's key leaks into what the client may use: its own key still works.
    expect((await requestToken(server, client)).statusCode).toBe(200);
    expect((await exportJWK(impostor.publicKey)).x).not.toBe(client.publicJwk.x);
  });

  it('a refused assertion does not use up its jti; an accepted one does', async () => {
    const jti = randomUUID();
    const wrongAud = await requestToken(server, client, 'system/*.rs', { jti, aud: 'https://other.example/auth/token' });
    expect(wrongAud.statusCode).toBe(400);
    expect((await requestToken(server, client, 'system/*.rs', { jti })).statusCode).toBe(200);
    expect((await requestToken(server, client, 'system/*.rs', { jti })).statusCode).toBe(400);
  });

  it('a refused request answers the same body whatever the reason (no oracle for client ids or keys)', async () => {
    const bodies = new Set<string>();
    for (const res of [
      await requestToken(server, { ...client, id: 'no-such-client' }),
      await requestToken(server, client, 'system/*.rs', { kid: 'no-such-kid' }),
      await requestToken(server, client, 'system/*.rs', { expIn: -30 }),
      await tokenRequest(server, { grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: ASSERTION_TYPE, client_assertion: (await assertion(client)).slice(0, -4) + 'AAAA' }),
    ]) {
      expect(res.statusCode).toBe(400);
      expect(res.headers['cache-control']).toBe('no-store');
      bodies.add(res.body);
    }
    expect([...bodies]).toEqual([JSON.stringify({ error: 'invalid_client' })]);
  });
});

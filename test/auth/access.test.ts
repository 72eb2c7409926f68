// Bearer authentication and SMART scopes on the FHIR API, over HTTP against the real database.
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { FHIR_JSON } from '../support/server.js';
import { accessToken, bearer, registerClient, startAuthServer, type TestClient } from './support.js';

let server: TestServer;
let full: TestClient;
let fullToken: string;

beforeAll(async () => {
  server = await startAuthServer();
  full = await registerClient(server, 'full', { organization: 'Organization/plan-a' });
  fullToken = await accessToken(server, full, 'system/*.cruds');
});
afterAll(async () => server.close());

// Registered by plan-a's client, so it names plan-a as its manager (docs/adr/0008).
const patient = { resourceType: 'Patient', name: [{ family: 'Example' }], managingOrganization: { reference: 'Organization/plan-a' } };
const outcomeCode = (body: string) => (JSON.parse(body) as { issue: { code: string }[] }).issue[0]?.code;

async function signedWithServerKey(claims: Record<string, unknown>, exp: number): Promise<string> {
  const { rows } = await server.db.query<{ kid: string; private_jwk: JWK | string }>('SELECT kid, private_jwk FROM auth_signing_key');
  const row = rows[0]!;
  const jwk = typeof row.private_jwk === 'string' ? (JSON.parse(row.private_jwk) as JWK) : row.private_jwk;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: row.kid })
    .setIssuer('urn:concord:auth')
    .setAudience('urn:concord:auth')
    .setSubject('full')
    .setIssuedAt(exp - 300)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(await importJWK(jwk, 'ES256'));
}

describe('authentication', () => {
  it('refuses a request without a token: 401, WWW-Authenticate: Bearer, OperationOutcome', async () => {
    const res = await server.request({ method: 'GET', url: '/fhir/Patient' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(outcomeCode(res.body)).toBe('login');
  });

  it('refuses a bogus token and a token of another key', async () => {
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer('not-a-token') })).statusCode).toBe(401);
    const other = await new SignJWT({ scope: 'system/*.cruds' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'x' })
      .setSubject('full')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('secret-secret-secret-secret-secret!'));
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(other) })).statusCode).toBe(401);
  });

  it('refuses an expired token and accepts the same token unexpired', async () => {
    const claims = { client_id: 'full', scope: 'system/*.cruds', organization: 'Organization/plan-a' };
    const expired = await signedWithServerKey(claims, Math.floor(Date.now() / 1000) - 5);
    const res = await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(expired) });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    const valid = await signedWithServerKey(claims, Math.floor(Date.now() / 1000) + 60);
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(valid) })).statusCode).toBe(200);
  });

  it('stops accepting a disabled client at once', async () => {
    const c = await registerClient(server, 'to-disable');
    const token = await accessToken(server, c);
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(token) })).statusCode).toBe(200);
    await server.clients!.setEnabled('to-disable', false);
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(token) })).statusCode).toBe(401);
  });

  it('leaves metadata, smart-configuration, healthz and readyz public', async () => {
    for (const url of ['/fhir/metadata', '/fhir/.well-known/smart-configuration', '/healthz', '/readyz']) {
      expect((await server.request({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });
});

describe('scopes per interaction', () => {
  it('v2 scopes: system/Patient.rs reads and searches Patients, nothing else', async () => {
    const c = await registerClient(server, 'patient-rs', { scopes: 'system/Patient.rs' });
    const token = await accessToken(server, c, 'system/Patient.rs');
    const created = await server.request({ method: 'POST', url: '/fhir/Patient', headers: { ...bearer(fullToken), 'content-type': FHIR_JSON }, payload: patient });
    expect(created.statusCode).toBe(201);
    const id = (JSON.parse(created.body) as { id: string }).id;
    expect((await server.request({ method: 'GET', url: `/fhir/Patient/${id}`, headers: bearer(token) })).statusCode).toBe(200);
    expect((await server.request({ method: 'GET', url: `/fhir/Patient/${id}/_history/1`, headers: bearer(token) })).statusCode).toBe(200);
    expect((await server.request({ method: 'GET', url: '/fhir/Patient?name=Example', headers: bearer(token) })).statusCode).toBe(200);
    expect((await server.request({ method: 'GET', url: '/fhir?_type=Patient', headers: bearer(token) })).statusCode).toBe(200);
    for (const [method, url] of [
      ['POST', '/fhir/Patient'],
      ['PUT', `/fhir/Patient/${id}`],
      ['DELETE', `/fhir/Patient/${id}`],
      ['GET', '/fhir/CareTeam'],
      ['GET', '/fhir/_history'],
      ['GET', '/fhir'],
      ['POST', '/fhir/Patient/$validate'],
    ] as const) {
      const body = method === 'POST' || method === 'PUT';
      const res = await server.request({ method, url, headers: { ...bearer(token), ...(body ? { 'content-type': FHIR_JSON } : {}) }, ...(body ? { payload: { ...patient, id } } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(outcomeCode(res.body)).toBe('forbidden');
    }
    // Nothing was changed by the refused writes.
    const after = await server.request({ method: 'GET', url: `/fhir/Patient/${id}`, headers: bearer(fullToken) });
    expect(JSON.parse(after.body)).toMatchObject({ meta: { versionId: '1' } });
  });

  it('_include, _revinclude and _has need scopes on the types they reach', async () => {
    const c = await registerClient(server, 'patient-careteam', { scopes: 'system/Patient.rs system/CareTeam.rs' });
    const token = await accessToken(server, c, 'system/Patient.rs system/CareTeam.rs');
    const status = async (url: string) => (await server.request({ method: 'GET', url, headers: bearer(token) })).statusCode;
    expect(await status('/fhir/Patient?_revinclude=CareTeam:subject')).toBe(200);
    expect(await status('/fhir/CareTeam?_include=CareTeam:subject:Patient')).toBe(200);
    expect(await status('/fhir/Patient?_revinclude=Observation:subject')).toBe(403);
    expect(await status('/fhir/CareTeam?_include=CareTeam:subject')).toBe(403);
    expect(await status('/fhir/Patient?_has:Observation:subject:code=1234-5')).toBe(403);
    expect(await status('/fhir/Patient?_has:CareTeam:subject:status=active')).toBe(200);
    const batch = await server.request({
      method: 'POST',
      url: '/fhir',
      headers: { ...bearer(token), 'content-type': FHIR_JSON },
      payload: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient?_revinclude=Observation:subject' } }] },
    });
    expect((JSON.parse(batch.body) as { entry: { response: { status: string } }[] }).entry[0]!.response.status).toMatch(/^403/);
  });

  it('v1 scopes: system/*.read reads and searches, system/*.write writes', async () => {
    const c = await registerClient(server, 'v1-client', { scopes: 'system/*.read system/*.write' });
    const reader = await accessToken(server, c, 'system/*.read');
    const writer = await accessToken(server, c, 'system/*.write');
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(reader) })).statusCode).toBe(200);
    expect((await server.request({ method: 'POST', url: '/fhir/Patient', headers: { ...bearer(reader), 'content-type': FHIR_JSON }, payload: patient })).statusCode).toBe(403);
    const created = await server.request({ method: 'POST', url: '/fhir/Patient', headers: { ...bearer(writer), 'content-type': FHIR_JSON }, payload: patient });
    expect(created.statusCode).toBe(201);
    const id = (JSON.parse(created.body) as { id: string }).id;
    expect((await server.request({ method: 'GET', url: `/fhir/Patient/${id}`, headers: bearer(writer) })).statusCode).toBe(403);
    expect((await server.request({ method: 'DELETE', url: `/fhir/Patient/${id}`, headers: bearer(writer) })).statusCode).toBe(204);
  });

  it('a transaction with one entry outside the scopes is refused whole; a batch refuses that entry only', async () => {
    const c = await registerClient(server, 'patient-cr', { scopes: 'system/Patient.cr' });
    const token = await accessToken(server, c, 'system/Patient.cr');
    const entries = [
      { fullUrl: 'urn:uuid:1', resource: { ...patient, name: [{ family: 'Txn' }] }, request: { method: 'POST', url: 'Patient' } },
      { resource: { resourceType: 'Organization', name: 'Txn Org' }, request: { method: 'POST', url: 'Organization' } },
    ];
    const txn = await server.request({ method: 'POST', url: '/fhir', headers: { ...bearer(token), 'content-type': FHIR_JSON }, payload: { resourceType: 'Bundle', type: 'transaction', entry: entries } });
    expect(txn.statusCode).toBe(403);
    expect(outcomeCode(txn.body)).toBe('forbidden');
    const none = await server.request({ method: 'GET', url: '/fhir/Patient?family=Txn', headers: bearer(fullToken) });
    expect((JSON.parse(none.body) as { total?: number; entry?: unknown[] }).entry ?? []).toHaveLength(0);
    const batch = await server.request({ method: 'POST', url: '/fhir', headers: { ...bearer(token), 'content-type': FHIR_JSON }, payload: { resourceType: 'Bundle', type: 'batch', entry: entries } });
    expect(batch.statusCode).toBe(200);
    const statuses = (JSON.parse(batch.body) as { entry: { response: { status: string } }[] }).entry.map((e) => e.response.status);
    expect(statuses[0]).toMatch(/^201/);
    expect(statuses[1]).toMatch(/^403/);
  });
});

describe('client secrets (client-confidential-symmetric)', () => {
  it('client_secret_basic and client_secret_post issue tokens; a wrong secret is invalid_client', async () => {
    await registerClient(server, 'postman', { secret: 's3cret-value' });
    const post = await server.request({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials&scope=system%2F*.rs&client_id=postman&client_secret=s3cret-value' });
    expect(post.statusCode).toBe(200);
    const token = (JSON.parse(post.body) as { access_token: string }).access_token;
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(token) })).statusCode).toBe(200);
    const basic = `Basic ${Buffer.from('postman:s3cret-value').toString('base64')}`;
    const viaBasic = await server.request({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, payload: 'grant_type=client_credentials&scope=system%2F*.rs' });
    expect(viaBasic.statusCode).toBe(200);
    const wrongPost = await server.request({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials&scope=system%2F*.rs&client_id=postman&client_secret=nope' });
    expect(wrongPost.statusCode).toBe(400);
    expect(JSON.parse(wrongPost.body)).toEqual({ error: 'invalid_client' });
    const wrongBasic = await server.request({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('postman:nope').toString('base64')}` }, payload: 'grant_type=client_credentials&scope=system%2F*.rs' });
    expect(wrongBasic.statusCode).toBe(401);
    expect(wrongBasic.headers['www-authenticate']).toMatch(/^Basic/);
  });
});

describe('discovery', () => {
  it('smart-configuration advertises backend services', async () => {
    const res = await server.request({ method: 'GET', url: '/fhir/.well-known/smart-configuration' });
    expect(JSON.parse(res.body)).toMatchObject({
      token_endpoint: 'http://concord.test/auth/token',
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'client_secret_post'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      capabilities: ['client-confidential-asymmetric', 'client-confidential-symmetric', 'permission-v1', 'permission-v2'],
    });
    expect((JSON.parse(res.body) as { scopes_supported: string[] }).scopes_supported).toContain('system/*.cruds');
  });

  it('the CapabilityStatement declares SMART-on-FHIR with the token endpoint', async () => {
    const res = await server.request({ method: 'GET', url: '/fhir/metadata' });
    const security = (JSON.parse(res.body) as { rest: { security: Record<string, unknown> }[] }).rest[0]!.security;
    expect(security).toMatchObject({
      service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
      extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: [{ url: 'token', valueUri: 'http://concord.test/auth/token' }] }],
    });
  });
});

describe('security headers', () => {
  it('nosniff everywhere; no-store on resources and errors, not on metadata', async () => {
    const read = await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(fullToken) });
    expect(read.headers['x-content-type-options']).toBe('nosniff');
    expect(read.headers['cache-control']).toBe('no-store');
    const denied = await server.request({ method: 'GET', url: '/fhir/Patient' });
    expect(denied.headers['x-content-type-options']).toBe('nosniff');
    expect(denied.headers['cache-control']).toBe('no-store');
    const meta = await server.request({ method: 'GET', url: '/fhir/metadata' });
    expect(meta.headers['x-content-type-options']).toBe('nosniff');
    expect(meta.headers['cache-control']).toBeUndefined();
  });
});

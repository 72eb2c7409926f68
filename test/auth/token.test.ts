// SMART Backend Services token endpoint: every check the specification lists for a client assertion,
// over HTTP against the real database.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { ASSERTION_TYPE, assertion, registerClient, requestToken, startAuthServer, tokenRequest, type TestClient } from './support.js';

let server: TestServer;
let es: TestClient;
let rs: TestClient;

beforeAll(async () => {
  server = await startAuthServer();
  es = await registerClient(server, 'es-client', { organization: 'Organization/plan-a' });
  rs = await registerClient(server, 'rs-client', { alg: 'RS384', organization: 'Organization/plan-b', scopes: 'system/Patient.rs system/CareTeam.cruds' });
});
afterAll(async () => server.close());

const refused = (res: { statusCode: number; body: string; headers: Record<string, unknown> }, error = 'invalid_client') => {
  expect(res.statusCode).toBe(400);
  expect(JSON.parse(res.body)).toEqual({ error });
  expect(res.headers['cache-control']).toBe('no-store');
};

describe('token endpoint: accepted assertions', () => {
  it('issues a bearer token for an ES384 assertion with the granted scopes, no-store', async () => {
    const res = await requestToken(server, es, 'system/*.cruds');
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 300, scope: 'system/*.cruds' });
    expect(typeof body.access_token).toBe('string');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('issues a token for an RS384 assertion; granted = requested ∩ registered', async () => {
    const res = await requestToken(server, rs, 'system/*.cruds system/Observation.rs');
    expect(res.statusCode).toBe(200);
    const scope = (JSON.parse(res.body) as { scope: string }).scope.split(' ').sort();
    expect(scope).toEqual(['system/CareTeam.cruds', 'system/Patient.rs']);
  });

  it('answers invalid_scope when nothing requested is registered', async () => {
    refused(await requestToken(server, rs, 'system/Observation.rs'), 'invalid_scope');
    refused(await requestToken(server, es, 'system/Patient.rs?category=x'), 'invalid_scope');
  });

  it('answers unsupported_grant_type for another grant', async () => {
    const res = await tokenRequest(server, { grant_type: 'password', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(es) });
    refused(res, 'unsupported_grant_type');
  });
});

describe('token endpoint: refused assertions answer 400 invalid_client and nothing more', () => {
  it('wrong aud', async () => refused(await requestToken(server, es, 'system/*.rs', { aud: 'http://elsewhere.test/auth/token' })));
  it('expired', async () => refused(await requestToken(server, es, 'system/*.rs', { expIn: -10 })));
  it('exp more than five minutes ahead', async () => refused(await requestToken(server, es, 'system/*.rs', { expIn: 600 })));
  it('iss differs from sub', async () => refused(await requestToken(server, es, 'system/*.rs', { sub: 'rs-client' })));
  it('unknown kid', async () => refused(await requestToken(server, es, 'system/*.rs', { kid: 'not-registered' })));
  it('unknown client', async () => refused(await requestToken(server, { ...es, id: 'nobody' }, 'system/*.rs')));

  it('a reused jti', async () => {
    const jti = randomUUID();
    expect((await requestToken(server, es, 'system/*.rs', { jti })).statusCode).toBe(200);
    refused(await requestToken(server, es, 'system/*.rs', { jti }));
  });

  it('alg none', async () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${enc({ alg: 'none', kid: es.kid })}.${enc({ iss: es.id, sub: es.id, aud: 'http://concord.test/auth/token', exp: now + 60, jti: randomUUID() })}.`;
    refused(await tokenRequest(server, { grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: ASSERTION_TYPE, client_assertion: unsigned }));
  });

  it('HS256 signed with the client public key as the HMAC secret', async () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const input = `${enc({ alg: 'HS256', kid: rs.kid })}.${enc({ iss: rs.id, sub: rs.id, aud: 'http://concord.test/auth/token', exp: now + 60, jti: randomUUID() })}`;
    for (const secret of [JSON.stringify(rs.publicJwk), createHash('sha256').update(JSON.stringify(rs.publicJwk)).digest()]) {
      const sig = createHmac('sha256', secret).update(input).digest('base64url');
      refused(await tokenRequest(server, { grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: ASSERTION_TYPE, client_assertion: `${input}.${sig}` }));
    }
  });

  it('a disabled client', async () => {
    const c = await registerClient(server, 'disabled-client', { enabled: false });
    refused(await requestToken(server, c, 'system/*.rs'));
  });

  it('a wrong client_assertion_type', async () => {
    refused(await tokenRequest(server, { grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: 'urn:other', client_assertion: await assertion(es) }));
  });
});

describe('jti replay across instances', () => {
  it('a jti accepted by one instance is refused by another on the same database', async () => {
    // A second server over the same schema: the test database is reused through its Database handle.
    const { createServer } = await import('../../src/server.js');
    const { loadConfig } = await import('../../src/config.js');
    const second = await createServer(loadConfig({ BASE_URL: 'http://concord.test/fhir', HOST: '127.0.0.1' }), false, { ...server.db, close: () => Promise.resolve() });
    try {
      const jti = randomUUID();
      const first = await requestToken(server, es, 'system/*.rs', { jti });
      expect(first.statusCode).toBe(200);
      const other = await second.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(es, { jti }) }).toString(),
      });
      refused(other);
      // And a token issued by one instance is accepted by the other (shared signing key).
      const token = (JSON.parse(first.body) as { access_token: string }).access_token;
      const read = await second.app.inject({ method: 'GET', url: '/fhir/Patient', headers: { authorization: `Bearer ${token}` } });
      expect(read.statusCode).toBe(200);
      // Disabling the client on one instance reaches the other's client cache (LISTEN/NOTIFY on PostgreSQL).
      const c = await registerClient(server, 'cross-instance');
      const crossToken = (JSON.parse((await requestToken(server, c, 'system/*.rs')).body) as { access_token: string }).access_token;
      const readWith = async () => (await second.app.inject({ method: 'GET', url: '/fhir/Patient', headers: { authorization: `Bearer ${crossToken}` } })).statusCode;
      expect(await readWith()).toBe(200);
      expect(await readWith()).toBe(200);
      await server.clients!.setEnabled('cross-instance', false);
      const deadline = Date.now() + 2000;
      let status = await readWith();
      while (status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        status = await readWith();
      }
      expect(status).toBe(401);
    } finally {
      await second.close();
    }
  });
});


// Per-client rate limits and CORS, over HTTP against the real database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { accessToken, bearer, registerClient, startAuthServer } from './support.js';

describe('rate limits per client', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startAuthServer({ RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(async () => server.close());

  it('answers 429 with an OperationOutcome and Retry-After once a client exceeds its limit; other clients are unaffected', async () => {
    const a = await accessToken(server, await registerClient(server, 'busy'));
    const b = await accessToken(server, await registerClient(server, 'quiet'));
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(a) })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(a) });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(limited.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
    expect((await server.request({ method: 'GET', url: '/fhir/Patient', headers: bearer(b) })).statusCode).toBe(200);
  });
});

describe('CORS', () => {
  let server: TestServer;
  let closed: TestServer;
  beforeAll(async () => {
    server = await startAuthServer({ CORS_ORIGINS: 'https://app.example.org' });
    closed = await startAuthServer();
  });
  afterAll(async () => Promise.all([server.close(), closed.close()]));

  const preflight = (s: TestServer, origin: string) =>
    s.request({ method: 'OPTIONS', url: '/fhir/Patient', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });

  it('answers a preflight from a configured origin with the allowed origin and headers', async () => {
    const res = await preflight(server, 'https://app.example.org');
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.org');
    expect(String(res.headers['access-control-allow-headers'])).toMatch(/Authorization/);
  });

  it('gives no CORS grant to another origin, nor to any origin by default', async () => {
    expect((await preflight(server, 'https://evil.example.com')).headers['access-control-allow-origin']).toBeUndefined();
    expect((await preflight(closed, 'https://app.example.org')).headers['access-control-allow-origin']).toBeUndefined();
    const simple = await closed.request({ method: 'GET', url: '/fhir/metadata', headers: { origin: 'https://app.example.org' } });
    expect(simple.headers['access-control-allow-origin']).toBeUndefined();
  });
});

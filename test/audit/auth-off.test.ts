// Without authentication (loopback only) every interaction is still audited, with an anonymous agent;
// CONCORD_AUDIT=off stops that and is refused at startup while authentication is on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';
import { auditCount, eventsFor } from './support.js';

describe('configuration', () => {
  it('CONCORD_AUDIT=off is refused unless CONCORD_AUTH=off', () => {
    expect(() => loadConfig({ HOST: '127.0.0.1', CONCORD_AUDIT: 'off' })).toThrow(/CONCORD_AUDIT=off is only allowed with CONCORD_AUTH=off/);
    expect(loadConfig({ HOST: '127.0.0.1', CONCORD_AUTH: 'off', CONCORD_AUDIT: 'off' }).auditEnabled).toBe(false);
    expect(loadConfig({ HOST: '127.0.0.1', CONCORD_AUTH: 'off' }).auditEnabled).toBe(true);
  });
});

describe('authentication off, audit on (the default)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s.close());

  it('records every interaction with an anonymous agent and shows AuditEvents to the local operator', async () => {
    const created = await s.request({ method: 'PUT', url: '/fhir/Patient/anon-1', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', id: 'anon-1' } });
    expect(created.statusCode).toBe(201);
    expect((await s.request({ method: 'GET', url: '/fhir/Patient/anon-1' })).statusCode).toBe(200);
    const events = await eventsFor(s, 'Patient/anon-1');
    expect(events.map((e) => [e.subtype?.[0]?.code, e.agent?.[0]?.who?.display, e.agent?.length])).toEqual([
      ['update', 'anonymous', 2],
      ['read', 'anonymous', 2],
    ]);
    const read = await s.request({ method: 'GET', url: `/fhir/AuditEvent/${events[0]!.id!}` });
    expect(read.statusCode).toBe(200);
  });
});

describe('authentication off, CONCORD_AUDIT=off', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(undefined, { CONCORD_AUDIT: 'off' });
  });
  afterAll(async () => s.close());

  it('records nothing, and AuditEvent still cannot be written', async () => {
    await s.request({ method: 'PUT', url: '/fhir/Patient/quiet', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', id: 'quiet' } });
    await s.request({ method: 'GET', url: '/fhir/Patient/quiet' });
    expect(await auditCount(s)).toBe(0);
    expect((await s.request({ method: 'POST', url: '/fhir/AuditEvent', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'AuditEvent' } })).statusCode).toBe(405);
  });
});

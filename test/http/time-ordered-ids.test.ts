// Ids the server assigns (created resources, transaction entries, AuditEvents) are time-ordered UUIDs
// (docs/adr/0029): valid FHIR ids that sort in creation order across milliseconds, so the btrees keyed
// on them grow at their right edge. Reads, searches and the audit trail find them as before.
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageBackends } from '../support/db.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisOf = (id: string): number => parseInt(id.replaceAll('-', '').slice(0, 12), 16);
const json = { 'content-type': FHIR_JSON };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(storageBackends())('server-assigned ids on %s', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(backend);
  });
  afterAll(async () => s.close());

  it('creates, transaction entries and AuditEvents get version 7 UUIDs in creation order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await s.request({ method: 'POST', url: '/fhir/Patient', headers: json, payload: { resourceType: 'Patient', name: [{ family: `Ordered${i}` }] } });
      expect(res.statusCode, res.body).toBe(201);
      const body = JSON.parse(res.body) as { id: string; meta: { lastUpdated: string } };
      expect(body.id).toMatch(V7);
      // The id's millisecond is the moment it was assigned: not after the version was stamped.
      expect(millisOf(body.id)).toBeLessThanOrEqual(Date.parse(body.meta.lastUpdated));
      ids.push(body.id);
      await pause(3);
    }
    expect([...ids].sort()).toEqual(ids);

    const tx = await s.request({
      method: 'POST',
      url: '/fhir',
      headers: json,
      payload: { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:1', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }] },
    });
    expect(tx.statusCode, tx.body).toBe(200);
    const location = (JSON.parse(tx.body) as Bundle).entry![0]!.response!.location!;
    const txId = /Patient\/([^/]+)\/_history\//.exec(location)![1]!;
    expect(txId).toMatch(V7);
    expect(txId > ids[2]!).toBe(true);

    for (const id of ids) expect((await s.request({ method: 'GET', url: `/fhir/Patient/${id}` })).statusCode).toBe(200);
    const found = await s.request({ method: 'GET', url: `/fhir/Patient?_id=${ids.join(',')}` });
    expect((JSON.parse(found.body) as Bundle).total).toBe(3);

    const events = await s.db.query<{ id: string; content: string }>("SELECT id, content FROM audit_event WHERE 'Patient/' || $1 = ANY(entity_refs) ORDER BY seq", [ids[0]]);
    expect(events.rows.length).toBeGreaterThan(0);
    for (const row of events.rows) {
      const e = JSON.parse(row.content) as AuditEvent;
      expect(row.id).toMatch(V7);
      expect(e.id).toBe(row.id);
      expect(millisOf(row.id)).toBe(Date.parse(e.recorded));
      expect((await s.request({ method: 'GET', url: `/fhir/AuditEvent/${row.id}` })).statusCode).toBe(200);
    }
  });
});

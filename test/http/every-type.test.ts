// Every R4 resource type goes through the whole write path (validation, index extraction, storage) and
// read/search/history without a server fault: minimal bodies are either stored (201) or refused (422;
// 405 for AuditEvent, which only the server writes).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getResourceTypes } from '../../src/fhir/definitions.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

it('creates, reads, searches and deletes a minimal resource of every R4 type, or refuses it with 422', async () => {
  const faults: string[] = [];
  let created = 0;
  for (const type of getResourceTypes()) {
    const res = await s.request({ method: 'POST', url: `/fhir/${type}`, payload: { resourceType: type } });
    // AuditEvents are the server's own audit trail: writing one answers 405 (docs/adr/0009-audit-trail.md).
    const refused = type === 'AuditEvent' ? 405 : 422;
    if (res.statusCode !== 201 && res.statusCode !== refused) faults.push(`POST ${type}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    if (res.statusCode !== 201) continue;
    created++;
    const id = (JSON.parse(res.body) as { id: string }).id;
    for (const url of [`/fhir/${type}/${id}`, `/fhir/${type}?_id=${id}`, `/fhir/${type}/${id}/_history`]) {
      const r = await s.request({ method: 'GET', url });
      if (r.statusCode !== 200) faults.push(`GET ${url}: ${r.statusCode}`);
    }
    const del = await s.request({ method: 'DELETE', url: `/fhir/${type}/${id}` });
    if (del.statusCode !== 204) faults.push(`DELETE ${type}: ${del.statusCode}`);
  }
  expect(faults).toEqual([]);
  expect(created).toBeGreaterThanOrEqual(30); // types with no required element (Patient, Medication, ...)
});

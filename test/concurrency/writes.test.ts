// Races over real HTTP semantics (fastify inject) against the test database: real PostgreSQL in CI,
// where 40 pooled connections really run these transactions at the same time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

async function currentIds(type: string): Promise<string[]> {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}/_history?_count=1000` });
  const bundle = JSON.parse(res.body) as { entry?: { fullUrl: string; request: { method: string } }[] };
  return [...new Set((bundle.entry ?? []).map((e) => e.fullUrl.split('/').pop()!))];
}

describe('concurrent writes', () => {
  it('100 parallel identical conditional creates produce exactly one resource', async () => {
    const body = { resourceType: 'Organization', identifier: [{ system: 'urn:npi', value: '1234567893' }], name: 'Hudson Valley MLTC' };
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        s.request({ method: 'POST', url: '/fhir/Organization', payload: body, headers: { 'if-none-exist': 'identifier=urn:npi|1234567893' } }),
      ),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((c) => c >= 500)).toEqual([]);
    expect(statuses.filter((c) => c === 201)).toHaveLength(1);
    expect(statuses.filter((c) => c === 200)).toHaveLength(99);
    const ids = new Set(results.map((r) => (JSON.parse(r.body) as { id: string }).id));
    expect(ids.size).toBe(1);
    expect(await currentIds('Organization')).toHaveLength(1);
  });

  it('30 parallel updates with the same If-Match: one succeeds, 29 get 412', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', gender: 'female' } });
    const id = (JSON.parse(created.body) as { id: string }).id;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        s.request({ method: 'PUT', url: `/fhir/Patient/${id}`, payload: { resourceType: 'Patient', id, birthDate: `19${String(10 + i)}-01-01` }, headers: { 'if-match': 'W/"1"' } }),
      ),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses.filter((c) => c === 200)).toHaveLength(1);
    expect(statuses.filter((c) => c === 412)).toHaveLength(29);
    const history = JSON.parse((await s.request({ method: 'GET', url: `/fhir/Patient/${id}/_history` })).body) as { total: number };
    expect(history.total).toBe(2);
  });

  it('parallel update-as-create of one new id gives one 201 and versions 1..n without errors', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => s.request({ method: 'PUT', url: '/fhir/Patient/race-1', payload: { resourceType: 'Patient', id: 'race-1' } })),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((c) => c === 201)).toHaveLength(1);
    expect(statuses.filter((c) => c === 200)).toHaveLength(19);
    const versions = results.map((r) => Number((JSON.parse(r.body) as { meta: { versionId: string } }).meta.versionId)).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});

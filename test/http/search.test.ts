import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  for (const [family, birthDate] of [['Rivera', '1948-03-02'], ['Rivas', '1950-07-11'], ['Chen', '1962-12-30']] as const) {
    await s.request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', name: [{ family }], birthDate, identifier: [{ system: 'urn:mrn', value: family }] } });
  }
});
afterAll(async () => {
  await s.close();
});

type SearchBundle = { type: string; total?: number; link: { relation: string; url: string }[]; entry?: { fullUrl?: string; resource: { resourceType: string; id: string; name?: { family: string }[]; meta?: { tag?: { code: string }[] } }; search: { mode: string } }[] };
const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await s.request({ method: 'GET', url, headers });
  return { status: res.statusCode, body: JSON.parse(res.body) as SearchBundle };
};
const families = (b: SearchBundle) => (b.entry ?? []).filter((e) => e.search.mode === 'match').map((e) => e.resource.name?.[0]?.family);

describe('search over HTTP', () => {
  it('answers a searchset Bundle with fullUrl and search.mode', async () => {
    const { status, body } = await get('/fhir/Patient?name=riv&_sort=family');
    expect(status).toBe(200);
    expect(body.type).toBe('searchset');
    expect(families(body)).toEqual(['Rivas', 'Rivera']);
    expect(body.entry![0]!.fullUrl).toMatch(/^http:\/\/concord\.test\/fhir\/Patient\//);
    expect(body.total).toBe(2);
  });

  it('supports dates with prefixes, tokens, and POST _search with a form body', async () => {
    expect(families((await get('/fhir/Patient?birthdate=ge1950&_sort=birthdate')).body)).toEqual(['Rivas', 'Chen']);
    expect(families((await get('/fhir/Patient?identifier=urn:mrn|Chen')).body)).toEqual(['Chen']);
    const res = await s.request({ method: 'POST', url: '/fhir/Patient/_search', payload: 'birthdate=lt1950', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.statusCode).toBe(200);
    expect(families(JSON.parse(res.body) as SearchBundle)).toEqual(['Rivera']);
  });

  it('pages with next links that stay stable under concurrent inserts', async () => {
    const first = (await get('/fhir/Patient?_count=1&_total=accurate')).body;
    expect(first.total).toBe(3);
    const next = first.link.find((l) => l.relation === 'next')!.url;
    await s.request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', name: [{ family: 'Adams' }] } });
    const seen = families(first);
    let url: string | undefined = next;
    while (url) {
      const page: SearchBundle = (await get(url.replace('http://concord.test', ''))).body;
      seen.push(...families(page));
      url = page.link.find((l) => l.relation === 'next')?.url;
    }
    expect(seen.sort()).toEqual(['Chen', 'Rivas', 'Rivera']);
  });

  it('reports unknown parameters leniently by default and rejects them under handling=strict', async () => {
    const lenient = await get('/fhir/Patient?shoe-size=12');
    expect(lenient.status).toBe(200);
    expect(lenient.body.entry?.some((e) => e.search.mode === 'outcome')).toBe(true);
    const strict = await s.request({ method: 'GET', url: '/fhir/Patient?shoe-size=12', headers: { prefer: 'handling=strict' } });
    expect(strict.statusCode).toBe(400);
  });

  it('answers 400, never 500, for malformed values', async () => {
    for (const q of ['birthdate=yesterday', '_sort=x,-', '_count=-1', "name='; DROP TABLE resource; --&_sort=", '_cursor=garbage']) {
      const res = await s.request({ method: 'GET', url: `/fhir/Patient?${q}` });
      expect(res.statusCode, q).toBeLessThan(500);
    }
    expect((await s.request({ method: 'GET', url: '/fhir/Patient?birthdate=yesterday' })).statusCode).toBe(400);
  });

  it('applies _summary=count and _elements', async () => {
    const count = (await get('/fhir/Patient?_summary=count')).body;
    expect(count.total).toBeGreaterThanOrEqual(3);
    expect(count.entry).toBeUndefined();
    const el = (await get('/fhir/Patient?_elements=birthDate&identifier=urn:mrn|Chen')).body;
    const r = el.entry![0]!.resource as unknown as Record<string, unknown>;
    expect(Object.keys(r).sort()).toEqual(['birthDate', 'id', 'meta', 'resourceType']);
    expect((r.meta as { tag: { code: string }[] }).tag.map((t) => t.code)).toContain('SUBSETTED');
  });

  it('searches across types at system level with _type', async () => {
    const { status, body } = await get('/fhir?_type=Patient,Practitioner&_count=100');
    expect(status).toBe(200);
    expect(new Set((body.entry ?? []).map((e) => e.resource.resourceType))).toEqual(new Set(['Patient']));
  });

  it('lists search parameters per type in the CapabilityStatement', async () => {
    const cs = JSON.parse((await s.request({ method: 'GET', url: '/fhir/metadata' })).body) as { rest: { resource: { type: string; searchParam?: { name: string }[] }[] }[] };
    const careTeam = cs.rest[0]!.resource.find((r) => r.type === 'CareTeam')!;
    expect(careTeam.searchParam!.map((p) => p.name)).toEqual(expect.arrayContaining(['patient', 'status', 'participant', 'date', '_id', '_lastUpdated']));
    // Parameters the server answers as unknown are not advertised.
    const location = cs.rest[0]!.resource.find((r) => r.type === 'Location')!;
    expect(location.searchParam!.map((p) => p.name)).not.toContain('near');
  });
});

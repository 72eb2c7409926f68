// Search conformance over HTTP against a real database: _list, _include=*, self links that repeat
// only the applied parameters, references by this server's absolute url, token :in / :not-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const BASE = 'http://concord.test/fhir';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const SCOPE = 'https://concord-fhir.org/fhir/CodeSystem/coordination-scope';

let s: TestServer;
const put = async (resource: { resourceType: string; id: string } & Record<string, unknown>): Promise<void> => {
  const res = await s.request({ method: 'PUT', url: `/fhir/${resource.resourceType}/${resource.id}`, payload: resource });
  expect(res.statusCode, res.body).toBeLessThan(300);
};
const observation = (id: string, subject: string, category: { system: string; code: string }, code: { system: string; code: string }, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  category: [{ coding: [category] }],
  code: { coding: [code] },
  subject: { reference: subject },
  ...extra,
});

beforeAll(async () => {
  s = await startTestServer();
  await put({ resourceType: 'Organization', id: 'org1', name: 'Lakeside' });
  for (const [id, gender] of [['p1', 'female'], ['p2', 'male'], ['p3', undefined]] as const) {
    await put({ resourceType: 'Patient', id, name: [{ family: id }], managingOrganization: { reference: 'Organization/org1' }, ...(gender ? { gender } : {}) });
  }
  await put(observation('obs1', 'Patient/p1', { system: CATEGORY, code: 'vital-signs' }, { system: SCOPE, code: 'ltc' }));
  await put(observation('obs2', 'Patient/p1', { system: 'urn:x', code: 'other' }, { system: 'urn:x', code: 'bar' }, { performer: [{ reference: 'Organization/org1' }] }));
  // Written by this server's absolute url: the write path stores it as Patient/p2.
  await put(observation('obs3', `${BASE}/Patient/p2`, { system: CATEGORY, code: 'laboratory' }, { system: 'urn:x', code: 'baz' }));
  await put({ resourceType: 'List', id: 'list1', status: 'current', mode: 'working', entry: [{ item: { reference: 'Patient/p1' } }, { item: { reference: 'Patient/p3' } }, { item: { reference: 'Observation/obs2' } }] });
});
afterAll(async () => {
  await s.close();
});

type Bundle = { link: { relation: string; url: string }[]; entry?: { resource: { resourceType: string; id: string; issue?: { severity: string; diagnostics?: string }[] }; search: { mode: string } }[] };
const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await s.request({ method: 'GET', url, headers });
  return { status: res.statusCode, body: JSON.parse(res.body) as Bundle };
};
const ids = (b: Bundle, mode = 'match') => (b.entry ?? []).filter((e) => e.search.mode === mode).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();
const outcome = (b: Bundle) => (b.entry ?? []).find((e) => e.search.mode === 'outcome')?.resource;
const selfLink = (b: Bundle) => b.link.find((l) => l.relation === 'self')!.url;

describe('_list', () => {
  it('finds the resources a List names in entry.item, at type and system level', async () => {
    expect(ids((await get('/fhir/Patient?_list=list1')).body)).toEqual(['Patient/p1', 'Patient/p3']);
    expect(ids((await get('/fhir?_list=list1')).body)).toEqual(['Observation/obs2', 'Patient/p1', 'Patient/p3']);
    expect(ids((await get('/fhir/Patient?_list=nope')).body)).toEqual([]);
  });

  it('refuses functional lists under strict handling and warns under lenient', async () => {
    const strict = await s.request({ method: 'GET', url: '/fhir/AllergyIntolerance?_list=$current-allergies', headers: { prefer: 'handling=strict' } });
    expect(strict.statusCode).toBe(400);
    expect(JSON.parse(strict.body)).toMatchObject({ resourceType: 'OperationOutcome' });
    const lenient = await get('/fhir/AllergyIntolerance?_list=$current-allergies');
    expect(lenient.status).toBe(200);
    expect(outcome(lenient.body)?.issue?.[0]).toMatchObject({ severity: 'warning' });
    expect(selfLink(lenient.body)).toBe(`${BASE}/AllergyIntolerance`);
  });
});

describe('_include=*', () => {
  it('includes every reference target of the matches', async () => {
    const { body } = await get('/fhir/Observation?_id=obs2&_include=*');
    expect(ids(body)).toEqual(['Observation/obs2']);
    expect(ids(body, 'include')).toEqual(['Organization/org1', 'Patient/p1']);
    expect(ids((await get('/fhir/Observation?_id=obs2&_include=Observation:*')).body, 'include')).toEqual(['Organization/org1', 'Patient/p1']);
  });

  it('refuses _revinclude=* under strict handling', async () => {
    const strict = await s.request({ method: 'GET', url: '/fhir/Patient?_revinclude=*', headers: { prefer: 'handling=strict' } });
    expect(strict.statusCode).toBe(400);
  });
});

describe('self link', () => {
  it('repeats only the applied parameters, and the ignored ones are in an outcome warning', async () => {
    const { body } = await get('/fhir/Patient?family=p1&shoe-size=12&_sort=nonsense&_count=2');
    expect(ids(body)).toEqual(['Patient/p1']);
    expect(selfLink(body)).toBe(`${BASE}/Patient?family=p1&_count=2`);
    const diagnostics = outcome(body)?.issue?.map((i) => i.diagnostics).join(' ');
    expect(diagnostics).toContain('shoe-size');
    expect(diagnostics).toContain('nonsense');
  });

  it('next links also carry only applied parameters', async () => {
    const { body } = await get('/fhir/Patient?_count=1&shoe-size=12');
    const next = body.link.find((l) => l.relation === 'next')!.url;
    expect(next).not.toContain('shoe-size');
    expect(next).toContain('_count=1');
  });
});

describe("references by this server's absolute url", () => {
  it('match the stored relative Type/id', async () => {
    expect(ids((await get(`/fhir/Observation?subject=${encodeURIComponent(`${BASE}/Patient/p1`)}`)).body)).toEqual(['Observation/obs1', 'Observation/obs2']);
    expect(ids((await get(`/fhir/Observation?subject=${encodeURIComponent(`${BASE}/Patient/p2`)}`)).body)).toEqual(['Observation/obs3']);
    expect(ids((await get('/fhir/Observation?subject=Patient/p2')).body)).toEqual(['Observation/obs3']);
    // Another server's Patient/p1 is not ours.
    expect(ids((await get(`/fhir/Observation?subject=${encodeURIComponent('http://elsewhere.test/fhir/Patient/p1')}`)).body)).toEqual([]);
  });

  it('work in chains', async () => {
    expect(ids((await get(`/fhir/Observation?subject:Patient.organization=${encodeURIComponent(`${BASE}/Organization/org1`)}`)).body)).toEqual([
      'Observation/obs1',
      'Observation/obs2',
      'Observation/obs3',
    ]);
  });
});

describe('token :in / :not-in', () => {
  const vs = encodeURIComponent('http://hl7.org/fhir/ValueSet/observation-category');
  it('matches codes in an R4 ValueSet named by canonical url', async () => {
    expect(ids((await get(`/fhir/Observation?category:in=${vs}`)).body)).toEqual(['Observation/obs1', 'Observation/obs3']);
    expect(ids((await get(`/fhir/Observation?category:not-in=${vs}`)).body)).toEqual(['Observation/obs2']);
  });

  it("matches codes in Concord's ValueSet named by ValueSet/id or canonical url", async () => {
    expect(ids((await get('/fhir/Observation?code:in=ValueSet/coordination-scope')).body)).toEqual(['Observation/obs1']);
    expect(ids((await get(`/fhir/Observation?code:in=${encodeURIComponent('https://concord-fhir.org/fhir/ValueSet/coordination-scope')}`)).body)).toEqual(['Observation/obs1']);
    expect(ids((await get('/fhir/Observation?code:not-in=ValueSet/coordination-scope')).body)).toEqual(['Observation/obs2', 'Observation/obs3']);
  });

  it('matches a code element (stored without a system) by its code', async () => {
    const gender = encodeURIComponent('http://hl7.org/fhir/ValueSet/administrative-gender');
    expect(ids((await get(`/fhir/Patient?gender:in=${gender}`)).body)).toEqual(['Patient/p1', 'Patient/p2']);
    expect(ids((await get(`/fhir/Patient?gender:not-in=${gender}`)).body)).toEqual(['Patient/p3']);
  });

  it('answers 400 with an OperationOutcome for an unknown ValueSet', async () => {
    for (const v of ['ValueSet/nope', encodeURIComponent('http://example.org/ValueSet/nope')]) {
      const res = await s.request({ method: 'GET', url: `/fhir/Observation?code:in=${v}` });
      expect(res.statusCode).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] });
    }
  });
});

describe('CapabilityStatement', () => {
  it('advertises _list on every type', async () => {
    const cs = JSON.parse((await s.request({ method: 'GET', url: '/fhir/metadata' })).body) as { rest: { resource: { type: string; searchParam?: { name: string; type: string }[] }[] }[] };
    for (const type of ['Patient', 'Observation', 'List']) {
      const params = cs.rest[0]!.resource.find((r) => r.type === type)!.searchParam!;
      expect(params).toContainEqual(expect.objectContaining({ name: '_list', type: 'special' }));
    }
  });
});

// Scopes on every type a request reaches, not only the type it names: chains, nested _has, _list,
// conditional criteria (If-None-Exist, PUT/DELETE [type]?criteria) and a transaction's conditional
// references. A client with only `system/Observation.rs` must not learn of Patients through
// `Observation?subject:Patient.name=x` (a total of 1 vs 0 answers "does a Patient named x exist?").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { FHIR_JSON, type TestServer } from '../support/server.js';
import { accessToken, bearer, registerClient, startAuthServer } from '../auth/support.js';

let server: TestServer;
let admin: string;
let patientId: string;

/** A token for a new client registered with exactly these scopes. */
async function tokenFor(id: string, scopes: string): Promise<string> {
  return accessToken(server, await registerClient(server, id, { scopes }), scopes);
}

const get = (url: string, token: string) => server.request({ method: 'GET', url, headers: bearer(token) });
const diagnostics = (res: LightMyRequestResponse) => (JSON.parse(res.body) as { issue: { code: string; diagnostics?: string }[] }).issue[0]!;
const total = async (url: string) => (JSON.parse((await get(url, admin)).body) as { entry?: unknown[] }).entry?.length ?? 0;

function expectForbidden(res: LightMyRequestResponse, needs: string): void {
  expect(res.statusCode, res.body).toBe(403);
  const i = diagnostics(res);
  expect(i.code).toBe('forbidden');
  expect(i.diagnostics).toContain(`needs ${needs}`);
}

beforeAll(async () => {
  server = await startAuthServer();
  admin = await tokenFor('admin', 'system/*.cruds');
  const created = await server.request({
    method: 'POST',
    url: '/fhir/Patient',
    headers: { ...bearer(admin), 'content-type': FHIR_JSON },
    payload: { resourceType: 'Patient', name: [{ family: 'Secretname' }], identifier: [{ system: 'urn:test:mrn', value: 'reach-1' }] },
  });
  patientId = (JSON.parse(created.body) as { id: string }).id;
  const obs = await server.request({
    method: 'POST',
    url: '/fhir/Observation',
    headers: { ...bearer(admin), 'content-type': FHIR_JSON },
    payload: { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: `Patient/${patientId}` } },
  });
  expect(obs.statusCode).toBe(201);
});
afterAll(async () => server.close());

describe('search parameters that reach other types', () => {
  it('a typed chain needs search on its target type', async () => {
    const obsOnly = await tokenFor('obs-only', 'system/Observation.rs');
    expectForbidden(await get('/fhir/Observation?subject:Patient.name=Secretname', obsOnly), 'system/Patient.s');
    expectForbidden(await get('/fhir/Observation?subject:Patient.identifier=urn:test:mrn|reach-1', obsOnly), 'system/Patient.s');
    // Also through POST _search (form body) and system search.
    const form = await server.request({ method: 'POST', url: '/fhir/Observation/_search', headers: { ...bearer(obsOnly), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'subject:Patient.name=Secretname' });
    expectForbidden(form, 'system/Patient.s');
    expectForbidden(await get('/fhir?_type=Observation&subject:Patient.name=Secretname', obsOnly), 'system/Patient.s');
    // Plain Observation searches and the reference's own value stay allowed.
    expect((await get(`/fhir/Observation?subject=Patient/${patientId}`, obsOnly)).statusCode).toBe(200);
    const both = await tokenFor('obs-patient', 'system/Observation.rs system/Patient.rs');
    const res = await get('/fhir/Observation?subject:Patient.name=Secretname', both);
    expect(res.statusCode).toBe(200);
    expect((JSON.parse(res.body) as { entry?: unknown[] }).entry).toHaveLength(1);
  });

  it('an untyped chain needs search on every type it may reach; naming the type needs less', async () => {
    const both = await tokenFor('obs-patient-untyped', 'system/Observation.rs system/Patient.rs');
    const res = await get('/fhir/Observation?subject.name=Secretname', both);
    expect(res.statusCode).toBe(403);
    expect(diagnostics(res).diagnostics).toMatch(/the chain on subject searches (?!Patient)[A-Za-z]+ \(name one target type/);
    const everyTarget = await tokenFor('obs-targets', 'system/Observation.rs system/Patient.s system/Group.s system/Device.s system/Location.s');
    expect((await get('/fhir/Observation?subject.name=Secretname', everyTarget)).statusCode).toBe(200);
  });

  it('chains and _has at every level of a nested parameter', async () => {
    const token = await tokenFor('patient-careteam-nested', 'system/Patient.rs system/CareTeam.rs');
    expect((await get('/fhir/Patient?_has:CareTeam:subject:status=active', token)).statusCode).toBe(200);
    expectForbidden(await get('/fhir/Patient?_has:CareTeam:subject:encounter:Encounter.status=finished', token), 'system/Encounter.s');
    expectForbidden(await get('/fhir/Patient?_has:CareTeam:subject:_has:Provenance:target:agent=Practitioner/x', token), 'system/Provenance.s');
    expectForbidden(await get('/fhir/CareTeam?subject:Patient._has:Observation:subject:code=x', token), 'system/Observation.s');
  });

  it('_list needs search on List', async () => {
    const obsOnly = await tokenFor('obs-list', 'system/Observation.rs');
    expectForbidden(await get('/fhir/Observation?_list=some-list', obsOnly), 'system/List.s');
    const withList = await tokenFor('obs-list-ok', 'system/Observation.rs system/List.s');
    expect((await get('/fhir/Observation?_list=some-list', withList)).statusCode).toBe(200);
  });

  it('a malformed chain is still the search error (400), once the type itself is allowed', async () => {
    const obsOnly = await tokenFor('obs-bad', 'system/Observation.rs');
    expect((await get('/fhir/Observation?subject:NotAType.name=x', obsOnly)).statusCode).toBe(400);
    const none = await tokenFor('patient-only', 'system/Patient.rs');
    expect((await get('/fhir/Observation?subject:NotAType.name=x', none)).statusCode).toBe(403);
  });
});

describe('conditional criteria', () => {
  const observation = (text: string) => ({ resourceType: 'Observation', status: 'final', code: { text }, subject: { reference: `Patient/${patientId}` } });

  it('If-None-Exist, conditional update and conditional delete need search on what their criteria reach', async () => {
    const obsWriter = await tokenFor('obs-writer', 'system/Observation.cruds');
    const before = await total('/fhir/Observation');
    const create = await server.request({
      method: 'POST',
      url: '/fhir/Observation',
      headers: { ...bearer(obsWriter), 'content-type': FHIR_JSON, 'if-none-exist': 'subject:Patient.name=Secretname' },
      payload: observation('conditional'),
    });
    expectForbidden(create, 'system/Patient.s');
    const update = await server.request({ method: 'PUT', url: '/fhir/Observation?subject:Patient.name=Secretname', headers: { ...bearer(obsWriter), 'content-type': FHIR_JSON }, payload: observation('updated') });
    expectForbidden(update, 'system/Patient.s');
    expectForbidden(await server.request({ method: 'DELETE', url: '/fhir/Observation?subject:Patient.name=Secretname', headers: bearer(obsWriter) }), 'system/Patient.s');
    expect(await total('/fhir/Observation')).toBe(before);
    expect(await total('/fhir/Observation?code:text=updated')).toBe(0);
    // Criteria on the type's own parameters need only its own search.
    const own = await server.request({ method: 'POST', url: '/fhir/Observation', headers: { ...bearer(obsWriter), 'content-type': FHIR_JSON, 'if-none-exist': 'code:text=weight' }, payload: observation('weight') });
    expect(own.statusCode).toBe(200);
  });

  it('a conditional create without search on its own type is refused', async () => {
    const createOnly = await tokenFor('obs-create-only', 'system/Observation.c');
    const res = await server.request({ method: 'POST', url: '/fhir/Observation', headers: { ...bearer(createOnly), 'content-type': FHIR_JSON, 'if-none-exist': 'code:text=weight' }, payload: observation('weight') });
    expectForbidden(res, 'system/Observation.s');
  });
});

describe('transaction and batch entries', () => {
  const entry = (reference: string, extra: Record<string, unknown> = {}) => ({
    resource: { resourceType: 'Observation', status: 'final', code: { text: 'from-bundle' }, subject: { reference } },
    request: { method: 'POST', url: 'Observation', ...extra },
  });
  const post = (token: string, type: 'transaction' | 'batch', entries: unknown[]) =>
    server.request({ method: 'POST', url: '/fhir', headers: { ...bearer(token), 'content-type': FHIR_JSON }, payload: { resourceType: 'Bundle', type, entry: entries } });

  it('a conditional reference needs search on the type it names (and on what its criteria reach)', async () => {
    const obsWriter = await tokenFor('obs-bundle', 'system/Observation.cruds');
    const before = await total('/fhir/Observation?code:text=from-bundle');
    expectForbidden(await post(obsWriter, 'transaction', [entry('Patient?identifier=urn:test:mrn|reach-1')]), 'system/Patient.s');
    expectForbidden(await post(obsWriter, 'transaction', [entry('Patient?general-practitioner:Practitioner.name=x')]), 'system/Patient.s');
    const patientSearch = await tokenFor('obs-bundle-patient', 'system/Observation.cruds system/Patient.s');
    expectForbidden(await post(patientSearch, 'transaction', [entry('Patient?general-practitioner:Practitioner.name=x')]), 'system/Practitioner.s');
    expect(await total('/fhir/Observation?code:text=from-bundle')).toBe(before);
    const ok = await post(patientSearch, 'transaction', [entry('Patient?identifier=urn:test:mrn|reach-1')]);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(await total('/fhir/Observation?code:text=from-bundle')).toBe(before + 1);
  });

  it('ifNoneExist and conditional URLs of entries, in a batch entry by entry', async () => {
    const obsWriter = await tokenFor('obs-batch', 'system/Observation.cruds');
    const res = await post(obsWriter, 'batch', [
      entry(`Patient/${patientId}`, { ifNoneExist: 'subject:Patient.name=Secretname' }),
      { request: { method: 'DELETE', url: 'Observation?subject:Patient.name=Secretname' } },
      { request: { method: 'GET', url: 'Observation?subject:Patient.name=Secretname' } },
      { request: { method: 'GET', url: 'Observation?code:text=weight' } },
    ]);
    expect(res.statusCode).toBe(200);
    const statuses = (JSON.parse(res.body) as { entry: { response: { status: string } }[] }).entry.map((e) => e.response.status.slice(0, 3));
    expect(statuses).toEqual(['403', '403', '403', '200']);
  });
});

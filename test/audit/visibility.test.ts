// AuditEvents through the API: readable and searchable by administrative clients only (for everyone else
// as if they did not exist), never created, changed or deleted (405), and immutable in the database too.
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON } from '../support/server.js';
import { eventsFor, startAuditFixture, type AuditFixture } from './support.js';

let f: AuditFixture;
let eventId: string;
let patientId: string;
const startedAt = new Date(Date.now() - 1000).toISOString();

beforeAll(async () => {
  f = await startAuditFixture();
  const res = await f.asPlan({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, name: [{ family: 'Seen' }] } });
  patientId = (JSON.parse(res.body) as { id: string }).id;
  for (let i = 0; i < 3; i++) await f.asPlan({ method: 'GET', url: `/fhir/Patient/${patientId}` });
  await f.asPlan({ method: 'GET', url: '/fhir/Patient/nobody-here' });
  eventId = (await eventsFor(f.server, `Patient/${patientId}`))[0]!.id!;
});
afterAll(async () => f.server.close());

const bundleOf = (body: string) => JSON.parse(body) as Bundle<AuditEvent>;
const search = async (query: string, as = f.asAdmin) => {
  const res = await as({ method: 'GET', url: `/fhir/AuditEvent?${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return bundleOf(res.body);
};

describe('who sees AuditEvents', () => {
  it('an administrative client reads one by id', async () => {
    const res = await f.asAdmin({ method: 'GET', url: `/fhir/AuditEvent/${eventId}` });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'AuditEvent', id: eventId, subtype: [{ code: 'create' }] });
  });

  it('for an organization\'s client they do not exist: 404 on read, an empty searchset', async () => {
    const read = await f.asPlan({ method: 'GET', url: `/fhir/AuditEvent/${eventId}` });
    const unknown = await f.asPlan({ method: 'GET', url: '/fhir/AuditEvent/no-such-event' });
    expect(read.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
    type Outcome = { issue: { diagnostics: string }[] };
    const issues = (body: string) => (JSON.parse(body) as Outcome).issue;
    expect(issues(read.body)).toEqual(issues(unknown.body).map((i) => ({ ...i, diagnostics: i.diagnostics.replace('no-such-event', eventId) })));
    const bundle = await search('', f.asPlan);
    expect(bundle.total).toBe(0);
    expect(bundle.entry ?? []).toEqual([]);
  });

  it('nor through the resource search, _include or _revinclude paths', async () => {
    const res = await f.asAdmin({ method: 'GET', url: `/fhir/Patient?_id=${patientId}&_revinclude=AuditEvent:patient` });
    expect(res.statusCode).toBe(200);
    expect(bundleOf(res.body).entry?.map((e) => e.resource?.resourceType)).toEqual(['Patient']);
  });
});

describe('AuditEvent search', () => {
  it('by patient, entity, subtype, outcome, agent and agent-identifier', async () => {
    // The plan's create and three reads (the auditor's own searches are audited too, as its client's).
    const byPatient = await search(`patient=Patient/${patientId}&agent-identifier=plan-client`);
    expect(byPatient.total).toBe(4);
    expect((await search(`entity=Patient/${patientId}&subtype=read`)).total).toBe(3);
    expect((await search(`subtype=http://hl7.org/fhir/restful-interaction|create&patient=${patientId}`)).total).toBe(1);
    const failed = await search('outcome=4&entity=Patient/nobody-here');
    expect(failed.total).toBe(1);
    expect(failed.entry?.[0]?.resource?.outcome).toBe('4');
    expect((await search(`agent=Organization/plan-a&patient=${patientId}`)).total).toBe(4);
    expect((await search(`agent-identifier=urn:concord:client-id|plan-client&patient=${patientId}`)).total).toBe(4);
    expect((await search(`agent-identifier=auditor&patient=${patientId}&subtype=read`)).total).toBe(0);
    // The auditor looking is itself audited.
    expect((await search(`agent-identifier=auditor&patient=${patientId}&subtype=search-type`)).total).toBeGreaterThan(0);
    expect((await search('type=110114')).total).toBeGreaterThanOrEqual(2); // the two tokens of the fixture
  });

  it('by date, newest first by default, _sort=date oldest first, _count pages with next links', async () => {
    const all = await search(`date=ge${startedAt}&patient=${patientId}&agent=Organization/plan-a&_count=2`);
    expect(all.total).toBe(4);
    expect(all.entry).toHaveLength(2);
    const recorded = all.entry!.map((e) => Date.parse(e.resource!.recorded));
    expect(recorded[0]).toBeGreaterThanOrEqual(recorded[1]!);
    const next = all.link?.find((l) => l.relation === 'next')?.url;
    expect(next).toBeDefined();
    const page2 = bundleOf((await f.asAdmin({ method: 'GET', url: new URL(next!).pathname + new URL(next!).search })).body);
    expect(page2.entry).toHaveLength(2);
    const seen = [...all.entry!, ...page2.entry!].map((e) => e.resource!.id);
    expect(new Set(seen).size).toBe(4);
    expect(page2.entry!.at(-1)!.resource!.subtype?.[0]?.code).toBe('create');
    const oldestFirst = await search(`patient=${patientId}&agent=Organization/plan-a&_sort=date&_count=1`);
    expect(oldestFirst.entry?.[0]?.resource?.subtype?.[0]?.code).toBe('create');
    expect((await search(`date=lt${startedAt}&patient=${patientId}`)).total).toBe(0);
  });

  it('POST _search takes the same parameters; an unknown parameter is refused with 400', async () => {
    const res = await f.asAdmin({ method: 'POST', url: '/fhir/AuditEvent/_search', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `patient=${patientId}&agent=Organization/plan-a` });
    expect(bundleOf(res.body).total).toBe(4);
    const bad = await f.asAdmin({ method: 'GET', url: '/fhir/AuditEvent?pateint=x' });
    expect(bad.statusCode).toBe(400);
    expect((JSON.parse(bad.body) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });
});

describe('AuditEvents are immutable', () => {
  it.each([
    ['POST', '/fhir/AuditEvent'],
    ['PUT', `/fhir/AuditEvent/EVENT`],
    ['PATCH', `/fhir/AuditEvent/EVENT`],
    ['DELETE', `/fhir/AuditEvent/EVENT`],
    ['DELETE', '/fhir/AuditEvent?patient=x'],
  ] as const)('%s %s answers 405 with an OperationOutcome, for the administrative client too', async (method, url) => {
    const contentType = method === 'PATCH' ? 'application/json-patch+json' : FHIR_JSON;
    const payload = method === 'PATCH' ? [{ op: 'replace', path: '/outcome', value: '0' }] : method === 'DELETE' ? undefined : { resourceType: 'AuditEvent', id: eventId };
    const res = await f.asAdmin({ method, url: url.replace('EVENT', eventId), ...(payload ? { payload, headers: { 'content-type': contentType } } : {}) });
    expect(res.statusCode).toBe(405);
    expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-supported' }] });
    const stored = JSON.parse((await f.asAdmin({ method: 'GET', url: `/fhir/AuditEvent/${eventId}` })).body) as AuditEvent;
    expect(stored.subtype?.[0]?.code).toBe('create');
  });

  it('a Bundle entry writing an AuditEvent is refused (batch entry 405; transaction refused whole)', async () => {
    const entry = { resource: { resourceType: 'AuditEvent', id: 'forged' }, request: { method: 'PUT', url: 'AuditEvent/forged' } };
    const batch = await f.asAdmin({ method: 'POST', url: '/fhir', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Bundle', type: 'batch', entry: [entry] } });
    expect(batch.statusCode).toBe(200);
    expect((JSON.parse(batch.body) as Bundle).entry?.[0]?.response?.status).toMatch(/^405/);
    const tx = await f.asAdmin({ method: 'POST', url: '/fhir', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Bundle', type: 'transaction', entry: [entry] } });
    expect(tx.statusCode).toBe(405);
    expect((await f.asAdmin({ method: 'GET', url: '/fhir/AuditEvent/forged' })).statusCode).toBe(404);
  });

  it('the database refuses UPDATE and DELETE of a stored AuditEvent', async () => {
    await expect(f.server.db.query(`UPDATE audit_event SET outcome = '0' WHERE id = $1`, [eventId])).rejects.toThrow(/immutable/);
    await expect(f.server.db.query('DELETE FROM audit_event WHERE id = $1', [eventId])).rejects.toThrow(/immutable/);
    await expect(f.server.db.query('TRUNCATE audit_event')).rejects.toThrow(/immutable/);
    expect((await f.asAdmin({ method: 'GET', url: `/fhir/AuditEvent/${eventId}` })).statusCode).toBe(200);
  });
});

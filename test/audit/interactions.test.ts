// Every interaction over HTTP (authentication on) leaves its AuditEvent in the BALP shape, stored before
// the answer arrives: reads, searches, writes, history, Bundles, $validate, token requests and refusals.
import type { AuditEvent } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON } from '../support/server.js';
import { ASSERTION_TYPE, assertion, registerClient, requestToken, tokenRequest, accessToken, bearer } from '../auth/support.js';
import { clientOf, entityRefs, eventsFor, eventsWhere, queryOf, startAuditFixture, subtypeOf, type AuditFixture } from './support.js';

let f: AuditFixture;
beforeAll(async () => {
  f = await startAuditFixture();
});
afterAll(async () => f.server.close());

const json = { 'content-type': FHIR_JSON };

async function createPatient(id?: string): Promise<string> {
  const res = id
    ? await f.asPlan({ method: 'PUT', url: `/fhir/Patient/${id}`, headers: json, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, id, name: [{ family: 'Audit' }] } })
    : await f.asPlan({ method: 'POST', url: '/fhir/Patient', headers: json, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, name: [{ family: 'Audit' }] } });
  expect(res.statusCode, res.body).toBe(201);
  return (JSON.parse(res.body) as { id: string }).id;
}

function expectBalp(e: AuditEvent, subtype: string, action: string, outcome: string, client?: string): void {
  expect(e.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
  expect(e.subtype?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/restful-interaction', code: subtype });
  expect(e.action).toBe(action);
  expect(e.outcome).toBe(outcome);
  expect(Date.parse(e.recorded)).toBeGreaterThan(Date.now() - 60_000);
  expect(e.source?.observer?.display).toBe('Concord');
  const [client_, ...rest] = e.agent ?? [];
  expect(client_?.requestor).toBe(true);
  expect(client_?.type?.coding?.[0]?.code).toBe('110153');
  if (client) expect(client_?.who?.identifier).toEqual({ system: 'urn:concord:client-id', value: client });
  // The server is the other party.
  expect(rest.at(-1)).toMatchObject({ requestor: false, who: { display: 'Concord' } });
}

describe('the AuditEvent of each interaction', () => {
  it('create: C, the new version and the member, with the client and its organization, committed with the write', async () => {
    const id = await createPatient();
    const [e, ...more] = await eventsFor(f.server, `Patient/${id}`);
    expect(more).toEqual([]);
    expectBalp(e!, 'create', 'C', '0', 'plan-client');
    expect(e!.agent?.[1]).toMatchObject({ who: { reference: 'Organization/plan-a' }, requestor: true });
    expect(entityRefs(e!)).toEqual([`Patient/${id}/_history/1`, `Patient/${id}`]);
    expect(e!.entity?.[1]).toMatchObject({ role: { code: '1' }, type: { code: '1' } });
  });

  it('read: R with the version read, stored before the answer arrived', async () => {
    const id = await createPatient();
    const res = await f.asPlan({ method: 'GET', url: `/fhir/Patient/${id}` });
    expect(res.statusCode).toBe(200);
    // Queried right after the answer: the event is already durable.
    const e = (await eventsFor(f.server, `Patient/${id}`)).at(-1)!;
    expectBalp(e, 'read', 'R', '0', 'plan-client');
    expect(entityRefs(e)).toContain(`Patient/${id}/_history/1`);
  });

  it('vread, update, patch, delete and history-instance', async () => {
    const id = await createPatient();
    expect((await f.asPlan({ method: 'GET', url: `/fhir/Patient/${id}/_history/1` })).statusCode).toBe(200);
    const put = await f.asPlan({ method: 'PUT', url: `/fhir/Patient/${id}`, headers: json, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, id, name: [{ family: 'Changed' }] } });
    expect(put.statusCode).toBe(200);
    const patch = await f.asPlan({ method: 'PATCH', url: `/fhir/Patient/${id}`, headers: { 'content-type': 'application/json-patch+json' }, payload: [{ op: 'replace', path: '/name/0/family', value: 'Patched' }] });
    expect(patch.statusCode).toBe(200);
    // History before the delete: deleting the Patient ends the plan's relationship (its managingOrganization).
    expect((await f.asPlan({ method: 'GET', url: `/fhir/Patient/${id}/_history` })).statusCode).toBe(200);
    expect((await f.asPlan({ method: 'DELETE', url: `/fhir/Patient/${id}` })).statusCode).toBe(204);
    const events = (await eventsFor(f.server, `Patient/${id}`)).slice(1);
    expect(events.map((e) => [subtypeOf(e), e.action, e.outcome])).toEqual([
      ['vread', 'R', '0'],
      ['update', 'U', '0'],
      ['patch', 'U', '0'],
      ['history-instance', 'R', '0'],
      ['delete', 'D', '0'],
    ]);
    expect(entityRefs(events[0]!)[0]).toBe(`Patient/${id}/_history/1`);
    expect(entityRefs(events[1]!)[0]).toBe(`Patient/${id}/_history/2`);
    expect(entityRefs(events[2]!)[0]).toBe(`Patient/${id}/_history/3`);
    expect(entityRefs(events[4]!)[0]).toBe(`Patient/${id}/_history/4`);
  });

  it('search-type and search-system: the query as sent in entity.query (base64), the member it names', async () => {
    const id = await createPatient();
    expect((await f.asPlan({ method: 'GET', url: `/fhir/Observation?patient=${id}&code=1234-5` })).statusCode).toBe(200);
    const [e] = await eventsWhere(f.server, `subtype = 'search-type' AND $1 = ANY(patient_refs)`, [`Patient/${id}`]);
    expectBalp(e!, 'search-type', 'R', '0', 'plan-client');
    expect(queryOf(e!)).toBe(`patient=${id}&code=1234-5`);
    expect(e!.entity?.find((x) => x.query)).toMatchObject({ role: { code: '24' }, description: 'Observation' });
    expect(entityRefs(e!)).toEqual([`Patient/${id}`]);

    const form = await f.asPlan({ method: 'POST', url: '/fhir/_search', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `_type=Patient&_id=${id}` });
    expect(form.statusCode).toBe(200);
    const [s] = await eventsWhere(f.server, `subtype = 'search-system' AND $1 = ANY(patient_refs)`, [`Patient/${id}`]);
    expect(queryOf(s!)).toBe(`_type=Patient&_id=${id}`);
  });

  it('history-type and history-system', async () => {
    expect((await f.asPlan({ method: 'GET', url: '/fhir/Patient/_history?_count=1' })).statusCode).toBe(200);
    expect((await f.asPlan({ method: 'GET', url: '/fhir/_history?_count=1' })).statusCode).toBe(200);
    const events = await eventsWhere(f.server, `subtype IN ('history-type', 'history-system')`);
    expect(events.map(subtypeOf)).toEqual(['history-type', 'history-system']);
    expect(queryOf(events[0]!)).toBe('_count=1');
  });

  it('transaction: one E event with every version written, committed with them; batch: one per written entry and one for the batch', async () => {
    const tx = await f.asPlan({
      method: 'POST',
      url: '/fhir',
      headers: json,
      payload: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:7a1e9f43-6c3c-4b43-8d0e-1f2a3b4c5d6e', resource: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, name: [{ family: 'Tx' }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:7a1e9f43-6c3c-4b43-8d0e-1f2a3b4c5d6e' } }, request: { method: 'POST', url: 'Observation' } },
        ],
      },
    });
    expect(tx.statusCode, tx.body).toBe(200);
    const locations = (JSON.parse(tx.body) as { entry: { response: { location: string } }[] }).entry.map((e) => e.response.location.replace(/\/_history\/\d+$/, ''));
    const patient = locations[0]!.replace(/^.*\/(Patient\/[^/]+)$/, '$1');
    const [t, ...more] = await eventsFor(f.server, patient);
    expect(more).toEqual([]);
    expectBalp(t!, 'transaction', 'E', '0', 'plan-client');
    expect(entityRefs(t!).filter((r) => r.includes('/_history/'))).toHaveLength(2);
    expect(entityRefs(t!)).toContain(patient);

    const batch = await f.asPlan({
      method: 'POST',
      url: '/fhir',
      headers: json,
      payload: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { resource: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, id: 'batch-audit', name: [{ family: 'Batch' }] }, request: { method: 'PUT', url: 'Patient/batch-audit' } },
          { request: { method: 'GET', url: 'Patient/batch-audit' } },
        ],
      },
    });
    expect(batch.statusCode).toBe(200);
    const entry = await eventsFor(f.server, 'Patient/batch-audit');
    expect(entry.map(subtypeOf)).toEqual(['update']);
    expect(entityRefs(entry[0]!)[0]).toBe('Patient/batch-audit/_history/1');
    expect((await eventsWhere(f.server, `subtype = 'batch'`)).map((e) => e.outcome)).toEqual(['0']);
  });

  it('$validate: an operation event naming validate', async () => {
    const res = await f.asPlan({ method: 'POST', url: '/fhir/Patient/$validate', headers: json, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, name: [{ family: 'V' }] } });
    expect(res.statusCode).toBe(200);
    const [e] = await eventsWhere(f.server, `subtype = 'operation'`);
    expectBalp(e!, 'operation', 'E', '0', 'plan-client');
    expect(e!.subtype?.[1]?.code).toBe('validate');
  });
});

describe('refusals are audited', () => {
  it('401 without a token: anonymous agent, outcome 4', async () => {
    const res = await f.server.request({ method: 'GET', url: '/fhir/Patient/no-token-probe' });
    expect(res.statusCode).toBe(401);
    const [e] = await eventsFor(f.server, 'Patient/no-token-probe');
    expectBalp(e!, 'read', 'R', '4');
    expect(e!.agent?.[0]?.who).toEqual({ display: 'anonymous' });
    expect(e!.outcomeDesc).toMatch(/^HTTP 401/);
  });

  it('403 for a missing scope, 404 for an unknown resource', async () => {
    const narrow = await registerClient(f.server, 'narrow', { organization: 'Organization/plan-a', scopes: 'system/Patient.rs' });
    const token = await accessToken(f.server, narrow, 'system/Patient.rs');
    const res = await f.server.request({ method: 'DELETE', url: '/fhir/Patient/scope-probe', headers: bearer(token) });
    expect(res.statusCode).toBe(403);
    const [e] = await eventsFor(f.server, 'Patient/scope-probe');
    expectBalp(e!, 'delete', 'D', '4', 'narrow');
    expect(e!.outcomeDesc).toBe('HTTP 403: forbidden');

    expect((await f.asPlan({ method: 'GET', url: '/fhir/Patient/never-there' })).statusCode).toBe(404);
    const [n] = await eventsFor(f.server, 'Patient/never-there');
    expectBalp(n!, 'read', 'R', '4', 'plan-client');
  });

  it('a hostile id (NUL) is refused as before and still audited, the NUL kept visible', async () => {
    const res = await f.asPlan({ method: 'GET', url: '/fhir/Patient/nul%00probe' });
    expect(res.statusCode).toBe(404);
    const [e] = await eventsFor(f.server, 'Patient/nul\uFFFDprobe');
    expectBalp(e!, 'read', 'R', '4', 'plan-client');
  });

  it('a refused write (422) leaves no resource and its refused AuditEvent', async () => {
    const res = await f.asPlan({ method: 'PUT', url: '/fhir/Patient/refused-write', headers: json, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, id: 'refused-write', gender: 'not-a-gender' } });
    expect(res.statusCode).toBe(422);
    expect((await f.asAdmin({ method: 'GET', url: '/fhir/Patient/refused-write' })).statusCode).toBe(404);
    const events = await eventsFor(f.server, 'Patient/refused-write');
    expect(events.map((e) => [subtypeOf(e), e.outcome, clientOf(e)])).toEqual([
      ['update', '4', 'plan-client'],
      ['read', '4', 'auditor'],
    ]);
  });

  it('token requests, issued and refused', async () => {
    const ok = await requestToken(f.server, f.plan);
    expect(ok.statusCode).toBe(200);
    const bad = await tokenRequest(f.server, { grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(f.plan, { aud: 'http://elsewhere.test/token' }) });
    expect(bad.statusCode).toBe(400);
    const events = await eventsWhere(f.server, `type_code = '110114' AND client_id = 'plan-client'`);
    const [issued, refused] = events.slice(-2);
    expect(issued).toMatchObject({ type: { code: '110114' }, subtype: [{ code: '110122' }], action: 'E', outcome: '0' });
    expect(clientOf(issued!)).toBe('plan-client');
    expect(refused).toMatchObject({ outcome: '4' });
    // The refusal reason is the operator's, in the audit store; the token itself never is.
    expect(refused!.outcomeDesc).toMatch(/^HTTP 400: /);
    expect(JSON.stringify(events)).not.toContain((JSON.parse(ok.body) as { access_token: string }).access_token);
  });
});

describe('read audit is durable before the answer', () => {
  it('50 concurrent reads leave 50 AuditEvents, each present when its answer arrives', async () => {
    const id = await createPatient();
    const results = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await f.asPlan({ method: 'GET', url: `/fhir/Patient/${id}` });
        const n = (await f.server.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM audit_event WHERE subtype = 'read' AND $1 = ANY(entity_refs)`, [`Patient/${id}`])).rows[0]!.n;
        return { status: res.statusCode, seen: Number(n) };
      }),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    // Each response found at least its own event stored.
    expect(results.every((r) => r.seen >= 1)).toBe(true);
    expect((await eventsWhere(f.server, `subtype = 'read' AND $1 = ANY(entity_refs)`, [`Patient/${id}`])).length).toBe(50);
  });

  it('when the AuditEvent cannot be stored the answer is 503, not the data', async () => {
    const id = await createPatient('unauditable');
    await f.server.db.exec(`
      CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store refuses'; END $$;
      CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event FOR EACH ROW WHEN ('Patient/unauditable' = ANY(NEW.entity_refs)) EXECUTE FUNCTION refuse_audit();`);
    try {
      const res = await f.asPlan({ method: 'GET', url: `/fhir/Patient/${id}` });
      expect(res.statusCode).toBe(503);
      expect(res.headers.etag).toBeUndefined();
      expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'transient' }] });
      expect(res.body).not.toContain('Audit"');
      // Other requests, in the same group commits, are unaffected.
      expect((await f.asPlan({ method: 'GET', url: '/fhir/Patient?_count=1' })).statusCode).toBe(200);
    } finally {
      await f.server.db.exec('DROP TRIGGER refuse_audit ON audit_event; DROP FUNCTION refuse_audit();');
    }
  });
});

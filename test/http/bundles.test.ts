import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(undefined, { MAX_BUNDLE_ENTRIES: '50' });
});
afterAll(async () => {
  await s.close();
});

type ResponseBundle = { type: string; entry: { fullUrl?: string; resource?: Record<string, unknown>; response: { status: string; location?: string; etag?: string; outcome?: unknown } }[] };
const post = async (bundle: object) => {
  const res = await s.request({ method: 'POST', url: '/fhir', payload: bundle });
  return { status: res.statusCode, body: JSON.parse(res.body) as ResponseBundle & { issue?: { diagnostics: string; expression?: string[] }[] } };
};
const total = async (type: string) => {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}?_summary=count&_total=accurate` });
  return (JSON.parse(res.body) as { total: number }).total;
};

const memberTx = (mrn: string) => ({
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    { fullUrl: 'urn:uuid:5b7e0c3e-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: mrn }] }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=urn:mrn|${mrn}` } },
    {
      fullUrl: 'urn:uuid:5b7e0c3e-0000-4000-8000-000000000002',
      resource: {
        resourceType: 'CareTeam',
        status: 'active',
        subject: { reference: 'urn:uuid:5b7e0c3e-0000-4000-8000-000000000001' },
        extension: [{ url: 'http://example.org/member', valueReference: { reference: 'urn:uuid:5b7e0c3e-0000-4000-8000-000000000001' } }],
      },
      request: { method: 'POST', url: 'CareTeam' },
    },
  ],
});

describe('transaction Bundles', () => {
  it('stores every entry atomically and rewrites urn:uuid references, also in extensions', async () => {
    const { status, body } = await post(memberTx('tx-1'));
    expect(status).toBe(200);
    expect(body.type).toBe('transaction-response');
    expect(body.entry.map((e) => e.response.status)).toEqual(['201 Created', '201 Created']);
    const patientRef = body.entry[0]!.response.location!.replace('http://concord.test/fhir/', '').replace(/\/_history\/\d+$/, '');
    const team = body.entry[1]!.resource as { subject: { reference: string }; extension: { valueReference: { reference: string } }[] };
    expect(team.subject.reference).toBe(patientRef);
    expect(team.extension[0]!.valueReference.reference).toBe(patientRef);
  });

  it('honours ifNoneExist per entry: a second identical transaction matches instead of creating', async () => {
    await post(memberTx('tx-2'));
    const before = await total('Patient');
    const { body } = await post(memberTx('tx-2'));
    expect(body.entry[0]!.response.status).toBe('200 OK');
    expect(await total('Patient')).toBe(before);
  });

  it('stores nothing when one entry is invalid, and names the failing entry', async () => {
    const [patients, teams] = [await total('Patient'), await total('CareTeam')];
    const bad = memberTx('tx-3');
    (bad.entry[1]!.resource as Record<string, unknown>).status = 'bogus';
    const { status, body } = await post(bad);
    expect(status).toBe(422);
    expect(body.issue![0]!.diagnostics).toContain('Bundle.entry[1]');
    expect(body.issue![0]!.expression).toContain('Bundle.entry[1]');
    expect([await total('Patient'), await total('CareTeam')]).toEqual([patients, teams]);
  });

  it('refuses (409) a conditional PUT that matches nothing but names an existing other resource, and changes nothing', async () => {
    const put = await s.request({ method: 'PUT', url: '/fhir/Patient/tx-cond-victim', payload: { resourceType: 'Patient', id: 'tx-cond-victim', identifier: [{ system: 'urn:mrn', value: 'victim' }] } });
    expect(put.statusCode, put.body).toBe(201);
    const { status, body } = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient', id: 'tx-cond-victim', identifier: [{ system: 'urn:mrn', value: 'other' }] }, request: { method: 'PUT', url: 'Patient?identifier=urn:mrn|other' } }],
    });
    expect(status, JSON.stringify(body)).toBe(409);
    expect(body.issue![0]!.diagnostics).toContain('Patient/tx-cond-victim exists but does not match the criteria');
    const read = await s.request({ method: 'GET', url: '/fhir/Patient/tx-cond-victim' });
    expect((JSON.parse(read.body) as { meta: { versionId: string }; identifier: { value: string }[] }).identifier[0]!.value).toBe('victim');
  });

  it('fails as a whole when two entries touch the same resource', async () => {
    const { status } = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', id: 'dup' }, request: { method: 'PUT', url: 'Patient/dup' } },
        { request: { method: 'DELETE', url: 'Patient/dup' } },
      ],
    });
    expect(status).toBe(400);
    expect((await s.request({ method: 'GET', url: '/fhir/Patient/dup' })).statusCode).toBe(404);
  });

  it('processes DELETE before POST before PUT before GET, and GET sees the transaction writes', async () => {
    await s.request({ method: 'PUT', url: '/fhir/Patient/order-1', payload: { resourceType: 'Patient', id: 'order-1' } });
    const { status, body } = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'GET', url: 'Patient/order-2' } },
        { resource: { resourceType: 'Patient', id: 'order-2', gender: 'male' }, request: { method: 'PUT', url: 'Patient/order-2' } },
        { request: { method: 'DELETE', url: 'Patient/order-1' } },
      ],
    });
    expect(status).toBe(200);
    expect(body.entry.map((e) => e.response.status)).toEqual(['200 OK', '201 Created', '204 No Content']);
    expect(body.entry[0]!.resource).toMatchObject({ id: 'order-2', gender: 'male' });
  });

  it('resolves conditional references inside the transaction', async () => {
    await post(memberTx('tx-4'));
    const { status, body } = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'CareTeam', status: 'proposed', subject: { reference: 'Patient?identifier=urn:mrn|tx-4' } }, request: { method: 'POST', url: 'CareTeam' } }],
    });
    expect(status).toBe(200);
    expect((body.entry[0]!.resource as { subject: { reference: string } }).subject.reference).toMatch(/^Patient\/[0-9a-f-]{36}$/);
    const none = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'CareTeam', subject: { reference: 'Patient?identifier=urn:mrn|nobody' } }, request: { method: 'POST', url: 'CareTeam' } }],
    });
    expect(none.status).toBe(412);
  });

  it('refuses more entries than MAX_BUNDLE_ENTRIES with 400', async () => {
    const entry = Array.from({ length: 51 }, () => ({ resource: { resourceType: 'Basic', code: { text: 'x' } }, request: { method: 'POST', url: 'Basic' } }));
    const { status, body } = await post({ resourceType: 'Bundle', type: 'transaction', entry });
    expect(status).toBe(400);
    expect(body.issue![0]!.diagnostics).toContain('at most 50');
  });
});

describe('batch Bundles', () => {
  it('runs entries independently, each with its own response', async () => {
    const { status, body } = await post({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { resourceType: 'Patient', gender: 'female' }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', gender: 'unknown-gender' }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      ],
    });
    expect(status).toBe(200);
    expect(body.type).toBe('batch-response');
    expect(body.entry.map((e) => e.response.status)).toEqual(['201 Created', '422 Unprocessable Entity', '404 Not Found']);
    expect(body.entry[1]!.response.outcome).toMatchObject({ resourceType: 'OperationOutcome' });
  });
});

describe('concurrent transactions', () => {
  it('10 clients x 10 parallel conditional transactions give exact resource and history counts', async () => {
    const [patientsBefore, teamsBefore] = [await total('Patient'), await total('CareTeam')];
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, client) =>
        Promise.all(
          Array.from({ length: 10 }, () => {
            const tx = memberTx(`conc-${client}`);
            tx.entry[1]!.request = { method: 'POST', url: 'CareTeam', ifNoneExist: `subject:Patient.identifier=urn:mrn|conc-${client}` };
            return post(tx);
          }),
        ),
      ),
    );
    const statuses = runs.flat().map((r) => r.status);
    expect(statuses.filter((c) => c >= 500)).toEqual([]);
    expect(statuses.every((c) => c === 200)).toBe(true);
    expect(await total('Patient')).toBe(patientsBefore + 10);
    expect(await total('CareTeam')).toBe(teamsBefore + 10);
    const history = JSON.parse((await s.request({ method: 'GET', url: '/fhir/CareTeam/_history?_count=1000' })).body) as { total: number };
    expect(history.total).toBe(teamsBefore + 10);
  });
});

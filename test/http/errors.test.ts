import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(undefined, { MAX_BODY_BYTES: '65536' });
});
afterAll(async () => {
  await s.close();
});

const outcomeOf = (body: string) => JSON.parse(body) as { resourceType: string; issue: { severity: string; code: string; diagnostics?: string; expression?: string[] }[] };

async function countPatients(): Promise<number> {
  const res = await s.request({ method: 'GET', url: '/fhir/Patient/_history' });
  return (JSON.parse(res.body) as { total: number }).total;
}

describe('malformed and unsupported requests', () => {
  it('answers 400 with an OperationOutcome for malformed JSON', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: '{"resourceType": "Patient",', headers: { 'content-type': 'application/fhir+json' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/fhir+json');
    expect(outcomeOf(res.body).issue[0]).toMatchObject({ severity: 'error', code: 'structure' });
  });

  it('refuses XML bodies with 415 and XML-only Accept with 406, saying XML is not supported', async () => {
    const body = '<Patient xmlns="http://hl7.org/fhir"/>';
    const a = await s.request({ method: 'POST', url: '/fhir/Patient', payload: body, headers: { 'content-type': 'application/fhir+xml' } });
    expect(a.statusCode).toBe(415);
    expect(outcomeOf(a.body).issue[0]!.diagnostics).toMatch(/XML is not supported/);
    const b = await s.request({ method: 'GET', url: '/fhir/metadata', headers: { accept: 'application/fhir+xml' } });
    expect(b.statusCode).toBe(406);
    expect(outcomeOf(b.body).issue[0]!.diagnostics).toMatch(/XML is not supported/);
    const c = await s.request({ method: 'GET', url: '/fhir/metadata?_format=xml' });
    expect(c.statusCode).toBe(406);
    const d = await s.request({ method: 'GET', url: '/fhir/metadata', headers: { accept: 'application/fhir+json, application/fhir+xml;q=0.9' } });
    expect(d.statusCode).toBe(200);
  });

  it('refuses other content types with 415', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(res.statusCode).toBe(415);
  });

  it('answers 413 over MAX_BODY_BYTES', async () => {
    const big = JSON.stringify({ resourceType: 'Patient', name: [{ text: 'x'.repeat(70_000) }] });
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: big, headers: { 'content-type': 'application/fhir+json' } });
    expect(res.statusCode).toBe(413);
    expect(outcomeOf(res.body).resourceType).toBe('OperationOutcome');
  });

  it('refuses deeply nested JSON fast with 400', async () => {
    const deep = '{"resourceType":"Patient","extension":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}';
    const started = Date.now();
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: deep, headers: { 'content-type': 'application/fhir+json' } });
    expect(res.statusCode).toBe(400);
    expect(outcomeOf(res.body).issue[0]!.code).toBe('too-costly');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('answers 405 with Allow for an unsupported method on a known path', async () => {
    const res = await s.request({ method: 'PATCH', url: '/fhir/Patient' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, POST, PUT, DELETE');
    const meta = await s.request({ method: 'DELETE', url: '/fhir/metadata' });
    expect(meta.statusCode).toBe(405);
  });

  it('answers 404 OperationOutcome for unknown routes', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/Patient/1/2/3/4' });
    expect(res.statusCode).toBe(404);
    expect(outcomeOf(res.body).resourceType).toBe('OperationOutcome');
  });
});

describe('validation on write', () => {
  it('rejects an invalid resource with 422, an expression, and stores nothing', async () => {
    const before = await countPatients();
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', birthDate: 'not-a-date' } });
    expect(res.statusCode).toBe(422);
    const oo = outcomeOf(res.body);
    expect(oo.issue[0]!.severity).toBe('error');
    expect(oo.issue.flatMap((i) => i.expression ?? [])).toContain('Patient.birthDate');
    expect(await countPatients()).toBe(before);
  });

  it('rejects unknown elements instead of dropping them', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', favouriteColour: 'blue' } });
    expect(res.statusCode).toBe(422);
    expect(outcomeOf(res.body).issue.flatMap((i) => i.expression ?? [])).toContain('Patient.favouriteColour');
  });

  it('enforces required bindings such as CarePlan.status', async () => {
    const res = await s.request({
      method: 'POST',
      url: '/fhir/CarePlan',
      payload: { resourceType: 'CarePlan', status: 'bogus', intent: 'plan', subject: { reference: 'Patient/1' } },
    });
    expect(res.statusCode).toBe(422);
    expect(outcomeOf(res.body).issue.flatMap((i) => i.expression ?? [])).toContain('CarePlan.status');
  });

  it('rejects a resourceType that does not match the URL with 400', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Observation', payload: { resourceType: 'Patient' } });
    expect(res.statusCode).toBe(400);
  });

  it('$validate reports issues without storing anything', async () => {
    const before = await countPatients();
    const bad = await s.request({ method: 'POST', url: '/fhir/Patient/$validate', payload: { resourceType: 'Patient', birthDate: 'x' } });
    expect(bad.statusCode).toBe(200);
    expect(outcomeOf(bad.body).issue.some((i) => i.severity === 'error')).toBe(true);
    const good = await s.request({ method: 'POST', url: '/fhir/Patient/$validate', payload: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient' } }] } });
    expect(good.statusCode).toBe(200);
    expect(outcomeOf(good.body).issue).toEqual([expect.objectContaining({ severity: 'information' })]);
    expect(await countPatients()).toBe(before);
  });
});

describe('metadata and health', () => {
  it('serves a CapabilityStatement for FHIR 4.0.1 listing every resource type', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/metadata' });
    expect(res.statusCode).toBe(200);
    const cs = JSON.parse(res.body) as { fhirVersion: string; rest: { resource: { type: string; interaction: { code: string }[] }[] }[] };
    expect(cs.fhirVersion).toBe('4.0.1');
    const types = cs.rest[0]!.resource.map((r) => r.type);
    expect(types).toContain('CareTeam');
    expect(types.length).toBeGreaterThan(140);
    expect(cs.rest[0]!.resource[0]!.interaction.map((i) => i.code)).toEqual(expect.arrayContaining(['read', 'vread', 'update', 'patch', 'delete', 'create']));
  });

  it('answers /healthz and /readyz', async () => {
    expect((await s.request({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await s.request({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
  });
});

describe('Concord conformance resources', () => {
  it('serves the profiles and code systems and lists the profiles in the CapabilityStatement', async () => {
    const sd = await s.request({ method: 'GET', url: '/fhir/StructureDefinition/coordination-care-team' });
    expect(sd.statusCode).toBe(200);
    expect(JSON.parse(sd.body)).toMatchObject({ url: 'https://concord-fhir.org/fhir/StructureDefinition/coordination-care-team', snapshot: {} });
    const cs = await s.request({ method: 'GET', url: '/fhir/CodeSystem/rule' });
    expect(cs.statusCode).toBe(200);
    const meta = JSON.parse((await s.request({ method: 'GET', url: '/fhir/metadata' })).body) as { rest: { resource: { type: string; supportedProfile?: string[] }[] }[] };
    const careTeam = meta.rest[0]!.resource.find((r) => r.type === 'CareTeam');
    expect(careTeam?.supportedProfile).toEqual(['https://concord-fhir.org/fhir/StructureDefinition/coordination-care-team']);
  });

  it('validates a resource claiming a Concord profile against it (nested rules included)', async () => {
    const res = await s.request({
      method: 'POST',
      url: '/fhir/CareTeam',
      payload: {
        resourceType: 'CareTeam',
        meta: { profile: ['https://concord-fhir.org/fhir/StructureDefinition/coordination-care-team'] },
        subject: { reference: 'Patient/1' },
        participant: [{ member: { reference: 'Practitioner/1' } }],
      },
    });
    expect(res.statusCode).toBe(422);
    const expressions = outcomeOf(res.body).issue.flatMap((i) => i.expression ?? []);
    // status is required; a Practitioner member needs onBehalfOf (cct-3, on the participant).
    expect(expressions).toContain('CareTeam.status');
    expect(expressions).toContain('CareTeam.participant[0]');
  });
});

// Over HTTP: valid R4 that used to be refused (whitespace in base64Binary, narrative over 1 MB, ras-2 on a
// prediction without probability, no-break spaces in codes) is stored; invalid R4 that used to be stored
// (impossible dates, per-1) is refused with an OperationOutcome and changes nothing.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';

const example = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(createRequire(import.meta.url).resolve(`hl7.fhir.r4.examples/${file}`), 'utf8')) as Record<string, unknown>;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

type Outcome = { resourceType: string; issue: { severity: string; code: string; diagnostics?: string; expression?: string[] }[] };

async function put(resource: Record<string, unknown>) {
  const res = await s.request({ method: 'PUT', url: `/fhir/${String(resource.resourceType)}/${String(resource.id)}`, payload: resource, headers: { 'content-type': FHIR_JSON } });
  return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> & Outcome };
}

async function post(resource: Record<string, unknown>) {
  const res = await s.request({ method: 'POST', url: `/fhir/${String(resource.resourceType)}`, payload: resource, headers: { 'content-type': FHIR_JSON } });
  return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> & Outcome };
}

async function count(type: string, query = ''): Promise<number> {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}?_summary=count&_total=accurate${query}` });
  return (JSON.parse(res.body) as { total: number }).total;
}

/** Refused with 422 and an issue saying `fragment` at `expression`, and nothing of that type stored. */
async function expectRefused(resource: Record<string, unknown>, fragment: string, expression: string): Promise<void> {
  const before = await count(String(resource.resourceType));
  const { status, body } = await post(resource);
  expect(status, JSON.stringify(body)).toBe(422);
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue.some((i) => i.severity === 'error' && i.diagnostics?.includes(fragment) && i.expression?.includes(expression)), JSON.stringify(body.issue)).toBe(true);
  expect(await count(String(resource.resourceType))).toBe(before);
}

describe('valid R4 is stored', () => {
  it.each(['Binary-example.json', 'Media-example.json', 'DiagnosticReport-gingival-mass.json'])('%s: base64Binary with line breaks', async (file) => {
    const resource = example(file);
    const { status, body } = await put(resource);
    expect(status, JSON.stringify(body).slice(0, 500)).toBe(201);
    const read = await s.request({ method: 'GET', url: `/fhir/${String(resource.resourceType)}/${String(resource.id)}` });
    const stored = JSON.parse(read.body) as Record<string, unknown>;
    // The base64 text is kept as sent, whitespace included.
    const data = (r: Record<string, unknown>): unknown =>
      r.data ?? (r.content as { data?: unknown } | undefined)?.data ?? (r.presentedForm as { data?: unknown }[] | undefined)?.[0]?.data;
    expect(data(stored)).toBe(data(resource));
    expect(String(data(stored))).toMatch(/\s/);
  });

  it('a narrative div over 1 MB (CodeSystem-dicom-dcim, ValueSet-c80-doc-typecodes)', async () => {
    for (const file of ['CodeSystem-dicom-dcim.json', 'ValueSet-c80-doc-typecodes.json']) {
      const resource = example(file);
      expect((resource.text as { div: string }).div.length).toBeGreaterThan(1024 * 1024);
      const { status } = await put(resource);
      expect(status, file).toBe(201);
    }
  });

  it('a RiskAssessment whose predictions have no probability (ras-2)', async () => {
    for (const file of ['RiskAssessment-breastcancer-risk.json', 'RiskAssessment-prognosis.json']) {
      const { status, body } = await put(example(file));
      expect(status, JSON.stringify(body)).toBe(201);
    }
  });

  it('codes with a no-break space (CodeSystem-v2-0550)', async () => {
    const { status } = await put(example('CodeSystem-v2-0550.json'));
    expect(status).toBe(201);
  });

  it('29 February of a leap year, and a Period whose end has a coarser precision than its start', async () => {
    expect((await post({ resourceType: 'Patient', birthDate: '2024-02-29' })).status).toBe(201);
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectivePeriod: { start: '2026-06-15T10:00:00Z', end: '2026-06' } };
    expect((await post(obs)).status).toBe(201);
    expect((await post({ ...obs, effectivePeriod: { start: '2026-06', end: '2026-06-15' } })).status).toBe(201);
  });
});

describe('invalid R4 is refused and changes nothing', () => {
  it('a RiskAssessment prediction with probabilityDecimal over 100 (ras-2)', async () => {
    const risk = { resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/p' }, prediction: [{ outcome: { text: 'x' }, probabilityDecimal: 150 }] };
    await expectRefused(risk, 'ras-2', 'RiskAssessment.prediction[0]');
  });

  it.each([
    [{ resourceType: 'Patient', birthDate: '2026-02-29' }, 'February 2026 has 28 days', 'Patient.birthDate'],
    [{ resourceType: 'Patient', birthDate: '2026-06-31' }, 'June 2026 has 30 days', 'Patient.birthDate'],
    [{ resourceType: 'Patient', birthDate: '2026-13-01' }, 'there is no month 13', 'Patient.birthDate'],
    [{ resourceType: 'Patient', deceasedDateTime: '2026-06-30T25:00:00Z' }, 'there is no hour 25', 'Patient.deceased.ofType(dateTime)'],
    [{ resourceType: 'Patient', meta: { lastUpdated: '2026-04-31T10:00:00Z' } }, 'April 2026 has 30 days', 'Patient.meta.lastUpdated'],
    [{ resourceType: 'Observation', status: 'final', code: { text: 'x' }, issued: '2100-02-29T10:00:00Z' }, 'February 2100 has 28 days', 'Observation.issued'],
  ])('an impossible date: %j', async (resource, fragment, expression) => {
    await expectRefused(resource, fragment, expression);
  });

  it('a Period whose end is before its start (per-1)', async () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectivePeriod: { start: '2026-06-15', end: '2026-06-14' } };
    await expectRefused(obs, 'per-1', 'Observation.effective.ofType(Period)');
    await expectRefused({ ...obs, effectivePeriod: { start: '2026-06', end: '2026-05-30T23:00:00Z' } }, 'per-1', 'Observation.effective.ofType(Period)');
  });

  it('an impossible date in a search is a 400, not an empty result', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/Patient?birthdate=2026-02-29' });
    expect(res.statusCode).toBe(400);
    expect(await count('Patient', '&birthdate=2024-02-29')).toBe(1);
  });

  it('an impossible _since is a 400, not a date rolled over into the next month', async () => {
    for (const since of ['2026-02-30T00:00:00Z', '2026-06-31']) {
      const res = await s.request({ method: 'GET', url: `/fhir/Patient/_history?_since=${encodeURIComponent(since)}` });
      expect(res.statusCode, since).toBe(400);
    }
    const ok = await s.request({ method: 'GET', url: `/fhir/Patient/_history?_since=${encodeURIComponent('2024-02-29T00:00:00+14:00')}` });
    expect(ok.statusCode).toBe(200);
  });
});

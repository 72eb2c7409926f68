// The contract's own conformance resources are read-only (contract 2026-12): main let a client (e.g.
// loading HL7's examples) replace CodeSystem/organization-role, program and service-category, and each
// restart wrote them back.
import type { Bundle, CodeSystem, OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../support/server.js';
import { FHIR_JSON } from '../../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const PROGRAM = 'https://concord-fhir.org/fhir/CodeSystem/program';
const json = { 'content-type': FHIR_JSON };
const hl7Like: CodeSystem = { resourceType: 'CodeSystem', id: 'program', url: 'http://hl7.org/fhir/program', status: 'active', content: 'complete', concept: [{ code: 'x' }] };

async function served(): Promise<string> {
  const res = await s.request({ method: 'GET', url: '/fhir/CodeSystem/program' });
  expect(res.statusCode).toBe(200);
  return res.body;
}

function expectOwned(body: string, expression: string): void {
  const issue = (JSON.parse(body) as OperationOutcome).issue?.[0];
  expect(issue?.diagnostics).toContain(`CodeSystem/program (${PROGRAM})`);
  expect(issue?.expression).toEqual([expression]);
}

describe('the contract\'s conformance resources are read-only', () => {
  it('refuses update, patch and delete of an owned id, and the served copy never changes', async () => {
    const before = await served();
    const put = await s.request({ method: 'PUT', url: '/fhir/CodeSystem/program', payload: hl7Like, headers: json });
    expect(put.statusCode, put.body).toBe(422);
    expectOwned(put.body, 'CodeSystem.id');
    const patch = await s.request({
      method: 'PATCH',
      url: '/fhir/CodeSystem/program',
      payload: [{ op: 'replace', path: '/status', value: 'retired' }],
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(patch.statusCode, patch.body).toBe(422);
    const del = await s.request({ method: 'DELETE', url: '/fhir/CodeSystem/program' });
    expect(del.statusCode, del.body).toBe(422);
    expect(await served()).toBe(before);
  });

  it('$validate reports what the write would get: update and delete of an owned id, create claiming its URL', async () => {
    const update = await s.request({ method: 'POST', url: '/fhir/CodeSystem/program/$validate?mode=update', payload: hl7Like, headers: json });
    expectOwned(update.body, 'CodeSystem.id');
    const del = await s.request({ method: 'POST', url: '/fhir/CodeSystem/program/$validate?mode=delete' });
    expectOwned(del.body, 'CodeSystem.id');
    const create = await s.request({ method: 'POST', url: '/fhir/CodeSystem/$validate', payload: { ...hl7Like, id: undefined, url: PROGRAM }, headers: json });
    expect((JSON.parse(create.body) as OperationOutcome).issue?.some((i) => i.diagnostics?.includes(`CodeSystem/program (${PROGRAM})`))).toBe(true);
  });

  it('refuses another resource claiming an owned canonical URL', async () => {
    const post = await s.request({ method: 'POST', url: '/fhir/CodeSystem', payload: { ...hl7Like, id: undefined, url: PROGRAM }, headers: json });
    expect(post.statusCode, post.body).toBe(422);
    expectOwned(post.body, 'CodeSystem.url');
  });

  it('refuses the same inside a transaction (all or nothing) and a batch (that entry only)', async () => {
    const before = await served();
    const entries = [
      { resource: { resourceType: 'Patient', id: 'oc-p' }, request: { method: 'PUT', url: 'Patient/oc-p' } },
      { resource: hl7Like, request: { method: 'PUT', url: 'CodeSystem/program' } },
    ];
    const tx = await s.request({ method: 'POST', url: '/fhir', payload: { resourceType: 'Bundle', type: 'transaction', entry: entries }, headers: json });
    expect(tx.statusCode, tx.body).toBe(422);
    expect((await s.request({ method: 'GET', url: '/fhir/Patient/oc-p' })).statusCode).toBe(404);
    const batch = await s.request({ method: 'POST', url: '/fhir', payload: { resourceType: 'Bundle', type: 'batch', entry: entries }, headers: json });
    expect(batch.statusCode, batch.body).toBe(200);
    const statuses = ((JSON.parse(batch.body) as Bundle).entry ?? []).map((e) => e.response?.status);
    expect(statuses[0]).toMatch(/^201/);
    expect(statuses[1]).toMatch(/^422/);
    expect(await served()).toBe(before);
  });
});

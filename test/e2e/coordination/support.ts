// Shared setup for the coordination end-to-end tests: an in-process Concord over a fresh database
// (real PostgreSQL when DATABASE_URL is set), the reference organizations / care managers of
// test/unit/coordination/builders.ts stored over HTTP, and assertions on rule rejections.
import type { LightMyRequestResponse } from 'fastify';
import type { OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import { CodeSystems } from '../../../src/coordination/codes.js';
import type { RuleId } from '../../../src/coordination/codes.js';
import { ORGS, PEOPLE, ROLES } from '../../unit/coordination/builders.js';
import { FHIR_JSON, type TestServer } from '../../support/server.js';

export type Response = LightMyRequestResponse;

/**
 * The unit builders may leave empty arrays (e.g. a Practitioner without qualifications), which FHIR
 * JSON forbids and the server rightly refuses; drop them before sending.
 */
export function clean<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clean) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (Array.isArray(v) && v.length === 0) continue;
      out[k] = clean(v);
    }
    return out as T;
  }
  return value;
}

/** PUTs every reference Organization, Practitioner and PractitionerRole, plus the given resources. */
export async function seed(s: TestServer, ...extra: Resource[]): Promise<void> {
  for (const r of [...Object.values(ORGS), ...Object.values(PEOPLE), ...Object.values(ROLES), ...extra]) {
    const res = await put(s, r);
    expect([200, 201], `seeding ${r.resourceType}/${r.id ?? ''}: ${res.body}`).toContain(res.statusCode);
  }
}

/** A Patient for one test's member (each test uses its own member, so tests do not see each other's data). */
export async function member(s: TestServer, id: string): Promise<string> {
  const res = await put(s, { resourceType: 'Patient', id, name: [{ family: id }], birthDate: '1946-05-12' });
  expect([200, 201]).toContain(res.statusCode);
  return id;
}

/** Re-targets a builder resource (written for Patient/member-1) at another member. */
export function forMember<T extends Resource>(resource: T, patientId: string): T {
  const r = structuredClone(resource) as T & { subject?: unknown; patient?: unknown };
  const ref = { reference: `Patient/${patientId}` };
  if (r.resourceType === 'Consent' || r.resourceType === 'EpisodeOfCare') r.patient = ref;
  else r.subject = ref;
  return r;
}

/**
 * Drops meta.profile: where a Concord profile already forbids what a rule forbids, profile validation
 * answers first (422 without a rule coding), so the rule is exercised on the unprofiled resource.
 */
export function unprofiled<T extends Resource>(resource: T): T {
  const { meta: _meta, ...rest } = resource;
  return rest as T;
}

export const put = (s: TestServer, resource: Resource, headers: Record<string, string> = {}): Promise<Response> =>
  s.request({ method: 'PUT', url: `/fhir/${resource.resourceType}/${resource.id ?? ''}`, payload: clean(resource), headers: { 'content-type': FHIR_JSON, ...headers } });

/** POSTs (the server assigns the id); the builder's id is dropped. */
export const post = (s: TestServer, resource: Resource): Promise<Response> => {
  const { id: _ignored, ...body } = resource;
  return s.request({ method: 'POST', url: `/fhir/${resource.resourceType}`, payload: clean(body), headers: { 'content-type': FHIR_JSON } });
};

export const del = (s: TestServer, type: string, id: string): Promise<Response> => s.request({ method: 'DELETE', url: `/fhir/${type}/${id}` });

export const validate = (s: TestServer, resource: Resource): Promise<Response> =>
  s.request({ method: 'POST', url: `/fhir/${resource.resourceType}/$validate`, payload: clean(resource), headers: { 'content-type': FHIR_JSON } });

export const transaction = (s: TestServer, entries: Array<{ resource?: Resource; method: 'POST' | 'PUT' | 'DELETE'; url: string }>): Promise<Response> =>
  s.request({
    method: 'POST',
    url: '/fhir',
    payload: {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: entries.map((e) => ({ ...(e.resource ? { resource: clean(e.resource) } : {}), request: { method: e.method, url: e.url } })),
    },
    headers: { 'content-type': FHIR_JSON },
  });

/** Accepted: 200 (update) or 201 (create), with the response body shown on failure. */
export function expectAccepted(res: Response, status?: 200 | 201): void {
  if (status) expect(res.statusCode, res.body).toBe(status);
  else expect([200, 201], res.body).toContain(res.statusCode);
}

export interface Expected {
  /** HTTP status; 422 unless told. */
  status?: number;
  /** Issue code; business-rule unless told. */
  code?: OperationOutcomeIssue['code'];
  expression?: string[];
  /** Fragments the diagnostics must contain (e.g. the resource already holding the role). */
  diagnostics?: string[];
}

/**
 * The answer is a rule rejection with exactly one issue, for the given rule, with the contract's
 * shape: severity error, details.coding = {base}/CodeSystem/rule#<rule id>, an expression and diagnostics.
 */
export function expectRejected(res: Response, ruleId: RuleId, expected: Expected = {}): OperationOutcomeIssue {
  expect(res.statusCode, res.body).toBe(expected.status ?? 422);
  const body = JSON.parse(res.body) as OperationOutcome;
  expect(body.resourceType).toBe('OperationOutcome');
  const issues = body.issue ?? [];
  expect(issues.map((i) => i.details?.coding?.[0]?.code), res.body).toEqual([ruleId]);
  return expectIssue(issues[0], ruleId, expected);
}

export function expectIssue(issue: OperationOutcomeIssue | undefined, ruleId: RuleId, expected: Expected = {}): OperationOutcomeIssue {
  expect(issue).toBeDefined();
  const i = issue!;
  expect(i.severity).toBe('error');
  expect(i.code).toBe(expected.code ?? 'business-rule');
  expect(i.details?.coding).toEqual([{ system: CodeSystems.rule, code: ruleId }]);
  expect(i.details?.text ?? '').not.toBe('');
  expect(i.expression?.length ?? 0).toBeGreaterThan(0);
  if (expected.expression) expect(i.expression).toEqual(expected.expression);
  expect(i.diagnostics ?? '').not.toBe('');
  for (const d of expected.diagnostics ?? []) expect(i.diagnostics).toContain(d);
  return i;
}

/** The rule ids of the issues of an OperationOutcome answer. */
export const ruleIds = (res: Response): string[] =>
  ((JSON.parse(res.body) as OperationOutcome).issue ?? []).map((i) => i.details?.coding?.[0]?.code ?? '?');

/** Reading the resource back answers 404: it was never stored. */
export async function expectNotStored(s: TestServer, type: string, id: string): Promise<void> {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}/${id}` });
  expect(res.statusCode, `${type}/${id} should not be stored`).toBe(404);
}

/** The stored resource is still at the given version (a rejected update or delete changed nothing). */
export async function expectVersion(s: TestServer, type: string, id: string, versionId: string): Promise<void> {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}/${id}` });
  expect(res.statusCode, res.body).toBe(200);
  expect((JSON.parse(res.body) as Resource).meta?.versionId).toBe(versionId);
}

/** The current resource, read back. */
export async function read<T extends Resource = Resource>(s: TestServer, type: string, id: string): Promise<T> {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}/${id}` });
  expect(res.statusCode, res.body).toBe(200);
  return JSON.parse(res.body) as T;
}

/** How many current resources of the type match the search (e.g. `subject=Patient/x`). */
export async function count(s: TestServer, type: string, query: string): Promise<number> {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}?${query}&_summary=count&_total=accurate` });
  expect(res.statusCode, res.body).toBe(200);
  return (JSON.parse(res.body) as { total: number }).total;
}

/** The ids of the current resources matching the search. */
export async function ids(s: TestServer, type: string, query: string): Promise<string[]> {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}?${query}&_count=1000` });
  expect(res.statusCode, res.body).toBe(200);
  const bundle = JSON.parse(res.body) as { entry?: Array<{ resource?: Resource }> };
  return (bundle.entry ?? []).map((e) => e.resource?.id ?? '?');
}

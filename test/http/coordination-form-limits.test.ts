// $coordination-form reads a bounded part of a member's record (FORM_MAX_RECORDS resources of each record
// type and of the directory), so a member with very many records never loads them all into one request's
// memory, and a form that was cut says so: a 'Records not shown' section first, whose entry is an
// OperationOutcome of warnings in the document, and a note in each section that may miss rows, on the
// page too. A record exactly at the limit is shown whole, without any of it.
import type { Bundle, Composition, CompositionSection, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clean, forMember } from '../e2e/coordination/support.js';
import { careTeam, ORGS, PEOPLE, ROLES, serviceRequest } from '../unit/coordination/builders.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';

const LIMIT = 3;
const BIG = 'limits-big';
const SMALL = 'limits-small';
const CODES = ['T1019', 'G9001', 'S5170', 'T2025', 'S5130'];

function orders(member: string, n: number): Resource[] {
  return CODES.slice(0, n).map((code) =>
    forMember(serviceRequest(`${member}-${code}`, { code, requester: ROLES.nyRnAtMltcp, category: 'community-ltss', period: { start: '2026-01-01', end: '2030-12-31' } }), member),
  );
}

let s: TestServer;
beforeAll(async () => {
  // The rules judge nothing this test is about; they are off so that any five orders may stand together.
  s = await startTestServer(undefined, { FORM_MAX_RECORDS: String(LIMIT), CONCORD_RULES: 'off' });
  const big = careTeam(`${BIG}-team`, [ROLES.nyRnAtMltcp, ROLES.nySwAtHh, ROLES.acoCm, ROLES.cpNavigator].map((member) => ({ member })), { patient: BIG });
  const small = careTeam(`${SMALL}-team`, [{ member: ROLES.nyRnAtMltcp }], { patient: SMALL });
  const resources: Resource[] = [
    ...Object.values(ORGS),
    ...Object.values(PEOPLE),
    ...Object.values(ROLES),
    { resourceType: 'Patient', id: BIG, name: [{ family: 'Many' }] },
    { resourceType: 'Patient', id: SMALL, name: [{ family: 'Few' }] },
    big,
    small,
    ...orders(BIG, 5),
    ...orders(SMALL, LIMIT),
  ];
  for (const r of resources) {
    const res = await s.request({ method: 'PUT', url: `/fhir/${r.resourceType}/${r.id!}`, payload: clean(r), headers: { 'content-type': FHIR_JSON } });
    if (res.statusCode >= 300) throw new Error(`seeding ${r.resourceType}/${r.id!}: ${res.statusCode} ${res.body}`);
  }
});
afterAll(async () => {
  await s.close();
});

function document(res: LightMyRequestResponse): { bundle: Bundle; sections: CompositionSection[]; section: (title: string) => CompositionSection; types: string[] } {
  expect(res.statusCode, res.body).toBe(200);
  const bundle = JSON.parse(res.body) as Bundle;
  const sections = (bundle.entry![0]!.resource as Composition).section!;
  return {
    bundle,
    sections,
    section: (title) => sections.find((x) => x.title === title)!,
    types: bundle.entry!.slice(1).map((e) => e.resource!.resourceType),
  };
}

const DIRECTORY = ['Organization', 'Practitioner', 'PractitionerRole'];

describe('$coordination-form limits', () => {
  it('reads at most FORM_MAX_RECORDS of each record type and of the directory, and says what it left out', async () => {
    const form = document(await s.request({ method: 'GET', url: `/fhir/Patient/${BIG}/$coordination-form` }));
    // Read in part: three of the five orders, three directory entries of the eleven the record names.
    expect(form.types.filter((t) => t === 'ServiceRequest')).toHaveLength(LIMIT);
    expect(form.types.filter((t) => DIRECTORY.includes(t)).length).toBeLessThanOrEqual(LIMIT);
    expect(form.section('Service requests').entry).toHaveLength(LIMIT);

    // First the section saying so, whose entry is the OperationOutcome of warnings in the document.
    const limits = form.sections[0]!;
    expect(limits.title).toBe('Records not shown');
    const ref = limits.entry![0]!.reference!;
    expect(ref).toMatch(/^urn:uuid:/);
    const outcome = form.bundle.entry!.find((e) => e.fullUrl === ref)!.resource as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue.map((i) => [i.severity, i.code])).toEqual([
      ['warning', 'too-costly'],
      ['warning', 'too-costly'],
    ]);
    expect(outcome.issue[0]!.diagnostics).toBe(`The member's record holds more than ${LIMIT} ServiceRequest resources the form could show; only ${LIMIT} were read, so rows taken from the others are missing.`);
    // Four roles named, three read; then none of their practitioners and organizations (six) fit.
    expect(outcome.issue[1]!.diagnostics).toBe(`The record names 7 more Organization, Practitioner or PractitionerRole resources than the ${LIMIT} the form reads: those show as their references, not their names.`);
    expect(limits.text!.div).toContain('ServiceRequest');
    // The section that may miss rows says so in its narrative; the others do not.
    expect(form.section('Service requests').text!.div).toContain(`more than ${LIMIT} ServiceRequest resources`);
    expect(form.section('Care team').text!.div).not.toContain('more than');
    // The role that was not read shows as its reference.
    expect(form.section('Care team').text!.div).toContain(`<td>PractitionerRole/${ROLES.cpNavigator.id!}</td>`);

    const page = await s.request({ method: 'GET', url: `/fhir/Patient/${BIG}/$coordination-form?_format=html` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h2>Records not shown</h2>');
    expect(page.body).toContain(`<p>The member&#39;s record holds more than ${LIMIT} ServiceRequest resources the form could show; only ${LIMIT} were read, so rows taken from the others are missing.</p>`);
  });

  it('shows a record exactly at the limit whole, with no warning', async () => {
    const form = document(await s.request({ method: 'GET', url: `/fhir/Patient/${SMALL}/$coordination-form` }));
    expect(form.sections.map((x) => x.title)).not.toContain('Records not shown');
    expect(form.types).not.toContain('OperationOutcome');
    expect(form.section('Service requests').entry).toHaveLength(LIMIT);
    expect(form.types.filter((t) => DIRECTORY.includes(t))).toHaveLength(LIMIT);
    const page = await s.request({ method: 'GET', url: `/fhir/Patient/${SMALL}/$coordination-form?_format=html` });
    expect(page.body).not.toContain('Records not shown');
  });
});

// Derived coordination state over HTTP across the life of a member's record: lead handoffs in one
// transaction Bundle, status changes, deletes, period changes, JSON Patch, and $validate (which
// reports the same issues without writing).
import type { Bundle, CareTeam, OperationOutcome, Period } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, episode, ORGS, ROLES } from '../../unit/coordination/builders.js';
import type { ParticipantSpec } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import {
  count,
  del,
  expectAccepted,
  expectIssue,
  expectNotStored,
  expectRejected,
  expectVersion,
  forMember,
  ids,
  member,
  put,
  read,
  ruleIds,
  seed,
  transaction,
  validate,
} from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

/** The MLTCP plan's RN as lead (designated jointly with the Health Home), holding ltc. */
const planLead = (period: Period = { start: '2026-01-01' }): ParticipantSpec => ({
  member: ROLES.nyRnAtMltcp,
  onBehalfOf: ORGS.mltcp,
  lead: true,
  designatedBy: [ORGS.mltcp, ORGS.hh],
  scopes: ['ltc'],
  period,
});
/** The Health Home's social worker as lead, holding bh-and-out-of-plan. */
const hhLead = (period: Period): ParticipantSpec => ({
  member: ROLES.nySwAtHh,
  onBehalfOf: ORGS.hh,
  lead: true,
  designatedBy: [ORGS.mltcp, ORGS.hh],
  scopes: ['bh-and-out-of-plan'],
  period,
});

const planTeam = (id: string, m: string, period?: Period, status?: CareTeam['status']) =>
  careTeam(id, [planLead(period)], { patient: m, ...(status ? { status } : {}) });
const hhTeam = (id: string, m: string, period: Period) => careTeam(id, [hhLead(period)], { patient: m });

/** Leads currently stored for the member (participants carrying the lead role on any stored team). */
async function storedLeads(m: string): Promise<string[]> {
  const res = await s.request({ method: 'GET', url: `/fhir/CareTeam?subject=Patient/${m}&_count=100` });
  const bundle = JSON.parse(res.body) as Bundle<CareTeam>;
  return (bundle.entry ?? []).flatMap((e) =>
    (e.resource?.participant ?? [])
      .filter((p) => p.role?.some((r) => r.coding?.some((c) => c.code === 'lead-care-manager')))
      .map((p) => `${e.resource?.id ?? '?'}:${p.member?.reference ?? '?'}:${p.period?.start ?? ''}..${p.period?.end ?? ''}`),
  );
}

describe('lead handoff in one transaction Bundle', () => {
  it('accepts ending the old lead on 2026-06-30 and starting the new one on 2026-07-01', async () => {
    const m = await member(s, 'lc-handoff');
    expectAccepted(await put(s, planTeam('lc-handoff-plan', m)), 201);
    const res = await transaction(s, [
      { method: 'PUT', url: 'CareTeam/lc-handoff-plan', resource: planTeam('lc-handoff-plan', m, { start: '2026-01-01', end: '2026-06-30' }) },
      { method: 'PUT', url: 'CareTeam/lc-handoff-hh', resource: hhTeam('lc-handoff-hh', m, { start: '2026-07-01' }) },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    const body = JSON.parse(res.body) as Bundle;
    expect(body.type).toBe('transaction-response');
    expect(body.entry?.map((e) => e.response?.status)).toEqual(['200 OK', '201 Created']);
    expect((await storedLeads(m)).sort()).toEqual([
      'lc-handoff-hh:PractitionerRole/ny-sw-okafor-cbc:2026-07-01..',
      'lc-handoff-plan:PractitionerRole/ny-rn-alvarez-vns:2026-01-01..2026-06-30',
    ]);
    // The slot after 2026-07-01 is now the Health Home lead's: a third lead is refused.
    expectRejected(await put(s, careTeam('lc-handoff-third', [{ ...planLead({ start: '2026-08-01' }), scopes: [] }], { patient: m })), 'single-lead', {
      diagnostics: ['CareTeam/lc-handoff-hh participant[0]'],
    });
  });

  it('accepts the handoff with a POSTed new team (server-assigned id)', async () => {
    const m = await member(s, 'lc-handoff-post');
    expectAccepted(await put(s, planTeam('lc-handoff-post-plan', m)), 201);
    const { id: _drop, ...next } = hhTeam('x', m, { start: '2026-07-01' });
    const res = await transaction(s, [
      { method: 'PUT', url: 'CareTeam/lc-handoff-post-plan', resource: planTeam('lc-handoff-post-plan', m, { start: '2026-01-01', end: '2026-06-30' }) },
      { method: 'POST', url: 'CareTeam', resource: next },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(2);
  });

  it('rejects the handoff when the old lead ends 2026-07-01 (overlapping the new start), storing nothing', async () => {
    const m = await member(s, 'lc-overlap');
    expectAccepted(await put(s, planTeam('lc-overlap-plan', m)), 201);
    const res = await transaction(s, [
      { method: 'PUT', url: 'CareTeam/lc-overlap-plan', resource: planTeam('lc-overlap-plan', m, { start: '2026-01-01', end: '2026-07-01' }) },
      { method: 'PUT', url: 'CareTeam/lc-overlap-hh', resource: hhTeam('lc-overlap-hh', m, { start: '2026-07-01' }) },
    ]);
    expect(res.statusCode, res.body).toBe(422);
    const outcome = JSON.parse(res.body) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(ruleIds(res)).toEqual(['single-lead']);
    expectIssue(outcome.issue?.[0], 'single-lead', { diagnostics: ['CareTeam/lc-overlap-plan participant[0]'] });
    await expectVersion(s, 'CareTeam', 'lc-overlap-plan', '1');
    expect((await read<CareTeam>(s, 'CareTeam', 'lc-overlap-plan')).participant?.[0]?.period).toEqual({ start: '2026-01-01' });
    await expectNotStored(s, 'CareTeam', 'lc-overlap-hh');
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(1);
  });

  it('accepts deleting the old lead\'s team and creating the new lead\'s in one transaction', async () => {
    const m = await member(s, 'lc-handoff-del');
    expectAccepted(await put(s, planTeam('lc-handoff-del-plan', m)), 201);
    const res = await transaction(s, [
      { method: 'DELETE', url: 'CareTeam/lc-handoff-del-plan' },
      { method: 'PUT', url: 'CareTeam/lc-handoff-del-hh', resource: hhTeam('lc-handoff-del-hh', m, { start: '2026-01-01' }) },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    expect(await ids(s, 'CareTeam', `subject=Patient/${m}`)).toEqual(['lc-handoff-del-hh']);
  });

  it('rejects the new lead alone (no transaction ending the old one)', async () => {
    const m = await member(s, 'lc-alone');
    expectAccepted(await put(s, planTeam('lc-alone-plan', m)), 201);
    expectRejected(await put(s, hhTeam('lc-alone-hh', m, { start: '2026-07-01' })), 'single-lead', { diagnostics: ['CareTeam/lc-alone-plan participant[0]'] });
    await expectNotStored(s, 'CareTeam', 'lc-alone-hh');
  });
});

describe('status, delete and period changes', () => {
  it('ending a team with status inactive frees the lead slot; reactivating it is then refused', async () => {
    const m = await member(s, 'lc-status');
    expectAccepted(await put(s, planTeam('lc-status-plan', m)), 201);
    expectRejected(await put(s, hhTeam('lc-status-hh', m, { start: '2026-03-01' })), 'single-lead');
    expectAccepted(await put(s, planTeam('lc-status-plan', m, undefined, 'inactive')), 200);
    expectAccepted(await put(s, hhTeam('lc-status-hh', m, { start: '2026-03-01' })), 201);
    expectRejected(await put(s, planTeam('lc-status-plan', m, undefined, 'active')), 'single-lead', {
      expression: ['CareTeam.participant[0].role'],
      diagnostics: ['CareTeam/lc-status-hh participant[0]'],
    });
    await expectVersion(s, 'CareTeam', 'lc-status-plan', '2');
  });

  it('ending a team with JSON Patch (status inactive) frees the slot too', async () => {
    const m = await member(s, 'lc-patch');
    expectAccepted(await put(s, planTeam('lc-patch-plan', m)), 201);
    const patched = await s.request({
      method: 'PATCH',
      url: '/fhir/CareTeam/lc-patch-plan',
      payload: JSON.stringify([{ op: 'replace', path: '/status', value: 'inactive' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expectAccepted(await put(s, hhTeam('lc-patch-hh', m, { start: '2026-03-01' })), 201);
    // Patching it back to active conflicts with the new lead.
    const back = await s.request({
      method: 'PATCH',
      url: '/fhir/CareTeam/lc-patch-plan',
      payload: JSON.stringify([{ op: 'replace', path: '/status', value: 'active' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expectRejected(back, 'single-lead', { diagnostics: ['CareTeam/lc-patch-hh participant[0]'] });
    await expectVersion(s, 'CareTeam', 'lc-patch-plan', '2');
  });

  it('deleting a CareTeam frees the lead slot', async () => {
    const m = await member(s, 'lc-delete');
    expectAccepted(await put(s, planTeam('lc-delete-plan', m)), 201);
    expectRejected(await put(s, hhTeam('lc-delete-hh', m, { start: '2026-01-01' })), 'single-lead');
    expect((await del(s, 'CareTeam', 'lc-delete-plan')).statusCode).toBe(204);
    expectAccepted(await put(s, hhTeam('lc-delete-hh', m, { start: '2026-01-01' })), 201);
    expect(await ids(s, 'CareTeam', `subject=Patient/${m}`)).toEqual(['lc-delete-hh']);
    // Re-creating the deleted team with its lead (update-as-create of a deleted id) is refused.
    expectRejected(await put(s, planTeam('lc-delete-plan', m)), 'single-lead', { diagnostics: ['CareTeam/lc-delete-hh participant[0]'] });
    expect((await s.request({ method: 'GET', url: '/fhir/CareTeam/lc-delete-plan' })).statusCode).toBe(410);
  });

  it('updating a period so that it overlaps the next lead is refused, and the stored period stays', async () => {
    const m = await member(s, 'lc-period');
    expectAccepted(await put(s, planTeam('lc-period-plan', m, { start: '2026-01-01', end: '2026-06-30' })), 201);
    expectAccepted(await put(s, hhTeam('lc-period-hh', m, { start: '2026-07-01' })), 201);
    expectRejected(await put(s, planTeam('lc-period-plan', m, { start: '2026-01-01', end: '2026-12-31' })), 'single-lead', {
      expression: ['CareTeam.participant[0].role'],
      diagnostics: ['CareTeam/lc-period-hh participant[0]'],
    });
    expectRejected(await put(s, hhTeam('lc-period-hh', m, { start: '2026-06-15' })), 'single-lead', { diagnostics: ['CareTeam/lc-period-plan participant[0]'] });
    await expectVersion(s, 'CareTeam', 'lc-period-plan', '1');
    await expectVersion(s, 'CareTeam', 'lc-period-hh', '1');
    // Shortening is fine, and then the earlier start of the next lead fits.
    expectAccepted(await put(s, planTeam('lc-period-plan', m, { start: '2026-01-01', end: '2026-06-14' })), 200);
    expectAccepted(await put(s, hhTeam('lc-period-hh', m, { start: '2026-06-15' })), 200);
  });

  it('a team-level period end clips the lead participant: the next lead may start the day after', async () => {
    const m = await member(s, 'lc-team-period');
    expectAccepted(await put(s, careTeam('lc-team-period-plan', [planLead()], { patient: m, period: { start: '2025-06-01', end: '2026-03-31' } })), 201);
    expectAccepted(await put(s, hhTeam('lc-team-period-hh', m, { start: '2026-04-01' })), 201);
  });
});

describe('$validate', () => {
  it('reports the single-lead issue with 200 and stores nothing', async () => {
    const m = await member(s, 'lc-validate');
    expectAccepted(await put(s, planTeam('lc-validate-plan', m)), 201);
    const res = await validate(s, hhTeam('lc-validate-hh', m, { start: '2026-03-01' }));
    expect(res.statusCode, res.body).toBe(200);
    const outcome = JSON.parse(res.body) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(ruleIds(res)).toEqual(['single-lead']);
    expectIssue(outcome.issue?.[0], 'single-lead', { expression: ['CareTeam.participant[0].role'], diagnostics: ['CareTeam/lc-validate-plan participant[0]'] });
    await expectNotStored(s, 'CareTeam', 'lc-validate-hh');
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(1);

    // The same resource written for real gets the same issue, with 422.
    const written = await put(s, hhTeam('lc-validate-hh', m, { start: '2026-03-01' }));
    const writtenIssue = expectRejected(written, 'single-lead');
    expect(writtenIssue).toEqual(outcome.issue?.[0]);
  });

  it('answers 200 without rule issues for a valid resource, and still stores nothing', async () => {
    const m = await member(s, 'lc-validate-ok');
    const res = await validate(s, planTeam('lc-validate-ok', m));
    expect(res.statusCode, res.body).toBe(200);
    const outcome = JSON.parse(res.body) as OperationOutcome;
    expect(outcome.issue?.every((i) => i.severity !== 'error')).toBe(true);
    await expectNotStored(s, 'CareTeam', 'lc-validate-ok');
  });

  it('mode=delete reports what deleting an enrolment would break, without deleting it', async () => {
    const m = await member(s, 'lc-validate-del');
    expectAccepted(await put(s, forMember(episode('lc-validate-del-ew', 'mn-elderly-waiver', ORGS.mnMco), m)), 201);
    expectAccepted(await put(s, careTeam('lc-validate-del', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['waiver-case-management'] }], { patient: m })), 201);
    const res = await s.request({ method: 'POST', url: '/fhir/EpisodeOfCare/lc-validate-del-ew/$validate?mode=delete', payload: { resourceType: 'Parameters' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(ruleIds(res)).toEqual(['scope-allowed-for-role']);
    expectIssue((JSON.parse(res.body) as OperationOutcome).issue?.[0], 'scope-allowed-for-role', { diagnostics: ['CareTeam/lc-validate-del (not in this write)'] });
    await expectVersion(s, 'EpisodeOfCare', 'lc-validate-del-ew', '1');
  });
});

// single-lead over HTTP: a member has at most one lead care manager at any instant, across all teams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, ORGS, PEOPLE, ROLES } from '../../unit/coordination/builders.js';
import type { ParticipantSpec } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectNotStored, expectRejected, expectVersion, member, post, put, seed, unprofiled } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const planLead: ParticipantSpec = { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] };
const hhLead = (start: string): ParticipantSpec => ({
  member: ROLES.nySwAtHh,
  onBehalfOf: ORGS.hh,
  lead: true,
  designatedBy: [ORGS.mltcp, ORGS.hh],
  scopes: ['bh-and-out-of-plan'],
  period: { start },
});

describe('single-lead over HTTP', () => {
  it('accepts a member\'s first lead, and the same care manager recorded as lead on a second team', async () => {
    const m = await member(s, 'sl-accept');
    expectAccepted(await put(s, careTeam('sl-accept-plan', [planLead], { patient: m })), 201);
    expectAccepted(await put(s, careTeam('sl-accept-hh', [{ ...planLead, scopes: [] }], { patient: m })), 201);
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(2);
  });

  // Contract 2026-12: a CareTeam without status (allowed outside the profile) counts as active, so its
  // lead holds the slot (main accepted the second lead: a missing status hid the first).
  it('refuses a second overlapping lead when the first lead\'s team, written without the profile, has no status; and a profiled team without status is refused', async () => {
    const m = await member(s, 'sl-nostatus');
    const { status: _s, ...noStatus } = unprofiled(careTeam('sl-nostatus-plan', [planLead], { patient: m }));
    expectAccepted(await put(s, noStatus), 201);
    expectRejected(await put(s, careTeam('sl-nostatus-hh', [hhLead('2026-03-01')], { patient: m })), 'single-lead', {
      diagnostics: ['CareTeam/sl-nostatus-plan participant[0]'],
    });
    await expectNotStored(s, 'CareTeam', 'sl-nostatus-hh');
    const { status: _s2, ...profiledNoStatus } = careTeam('sl-nostatus-2', [hhLead('2030-01-01')], { patient: m });
    const res = await put(s, profiledNoStatus);
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('CareTeam.status');
  });

  it('accepts a second lead that starts the day after the first one ends', async () => {
    const m = await member(s, 'sl-seq');
    expectAccepted(await put(s, careTeam('sl-seq-plan', [{ ...planLead, period: { start: '2026-01-01', end: '2026-06-30' } }], { patient: m })), 201);
    expectAccepted(await put(s, careTeam('sl-seq-hh', [hhLead('2026-07-01')], { patient: m })), 201);
  });

  it('rejects a second lead on another team for an overlapping period, naming the current lead, and stores nothing', async () => {
    const m = await member(s, 'sl-reject');
    expectAccepted(await put(s, careTeam('sl-reject-plan', [planLead], { patient: m })), 201);
    const res = await put(s, careTeam('sl-reject-hh', [hhLead('2026-03-01')], { patient: m }));
    expectRejected(res, 'single-lead', {
      expression: ['CareTeam.participant[0].role'],
      diagnostics: ['CareTeam/sl-reject-plan participant[0]', 'PractitionerRole/ny-rn-alvarez-vns'],
    });
    await expectNotStored(s, 'CareTeam', 'sl-reject-hh');
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(1);
  });

  it('rejects a lead whose start falls on the day the current lead ends (end 2026-07-01 covers that day)', async () => {
    const m = await member(s, 'sl-edge');
    expectAccepted(await put(s, careTeam('sl-edge-plan', [{ ...planLead, period: { start: '2026-01-01', end: '2026-07-01' } }], { patient: m })), 201);
    expectRejected(await put(s, careTeam('sl-edge-hh', [hhLead('2026-07-01')], { patient: m })), 'single-lead', {
      diagnostics: ['CareTeam/sl-edge-plan participant[0]'],
    });
    await expectNotStored(s, 'CareTeam', 'sl-edge-hh');
  });

  it('rejects two leads on one posted team, pointing at the second, and stores nothing', async () => {
    const m = await member(s, 'sl-two');
    const team = careTeam('x', [planLead, { member: PEOPLE.nySw, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh] }], { patient: m });
    expectRejected(await post(s, team), 'single-lead', { expression: ['CareTeam.participant[1].role'], diagnostics: ['participant[0]'] });
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(0);
  });

  it('rejects turning a non-lead participant into a second lead by update, and keeps the stored version', async () => {
    const m = await member(s, 'sl-upd');
    expectAccepted(await put(s, careTeam('sl-upd-plan', [planLead], { patient: m })), 201);
    expectAccepted(await put(s, careTeam('sl-upd-hh', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'] }], { patient: m })), 201);
    expectRejected(await put(s, careTeam('sl-upd-hh', [hhLead('2026-01-01')], { patient: m })), 'single-lead', {
      expression: ['CareTeam.participant[0].role'],
      diagnostics: ['CareTeam/sl-upd-plan participant[0]'],
    });
    await expectVersion(s, 'CareTeam', 'sl-upd-hh', '1');
  });
});

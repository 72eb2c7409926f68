// lead-documented over HTTP: a lead carries its lead-designation; with both an MLTCP/MAP plan and a
// Health Home on the member's active teams, both designated the lead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, leadDesignation, ORGS, PEOPLE, ROLES } from '../../unit/coordination/builders.js';
import type { ParticipantSpec } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectNotStored, expectRejected, member, post, put, seed, unprofiled } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const hhMember: ParticipantSpec = { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'] };

describe('lead-documented over HTTP', () => {
  it('accepts a lead designated jointly by the MLTCP plan and the Health Home on the team', async () => {
    const m = await member(s, 'ld-joint');
    const team = careTeam('ld-joint', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] }, hhMember], { patient: m });
    expectAccepted(await put(s, team), 201);
  });

  it('accepts a lead designated by the plan alone when no Health Home is on the member\'s teams', async () => {
    const m = await member(s, 'ld-alone');
    expectAccepted(await put(s, careTeam('ld-alone', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] }], { patient: m })), 201);
  });

  it('rejects a lead without lead-designation (no profile claimed: the profile would refuse it first), and stores nothing', async () => {
    const m = await member(s, 'ld-none');
    const team = unprofiled(careTeam('ld-none', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designation: false }], { patient: m }));
    expectRejected(await put(s, team), 'lead-documented', { expression: ['CareTeam.participant[0].extension'], diagnostics: ['designatedBy, basis, reason, date'] });
    await expectNotStored(s, 'CareTeam', 'ld-none');
  });

  it('rejects a designation missing its reason and date', async () => {
    const m = await member(s, 'ld-partial');
    const team = unprofiled(
      careTeam('ld-partial', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designation: leadDesignation([ORGS.mltcp], ['reason', 'date']) }], { patient: m }),
    );
    expectRejected(await post(s, team), 'lead-documented', { expression: ['CareTeam.participant[0].extension[0]'], diagnostics: ['reason, date'] });
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(0);
  });

  it('rejects a lead designated by the plan alone while the Health Home is on the team', async () => {
    const m = await member(s, 'ld-plan-only');
    const team = careTeam('ld-plan-only', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] }, hhMember], { patient: m });
    expectRejected(await put(s, team), 'lead-documented', {
      expression: ['CareTeam.participant[0].extension[0]'],
      diagnostics: ['Health Home Organization/ny-cbc-hh'],
    });
    await expectNotStored(s, 'CareTeam', 'ld-plan-only');
  });

  it('rejects a Health Home team joining while the MAP plan\'s lead was designated by the plan alone, naming that lead', async () => {
    const m = await member(s, 'ld-hh-joins');
    expectAccepted(await put(s, careTeam('ld-hh-joins-map', [{ member: PEOPLE.nyRn, onBehalfOf: ORGS.map, lead: true, designatedBy: [ORGS.map], scopes: ['ltc'] }], { patient: m })), 201);
    expectRejected(await put(s, careTeam('ld-hh-joins-hh', [hhMember], { patient: m })), 'lead-documented', {
      expression: ['CareTeam.participant[0].member'],
      diagnostics: ['CareTeam/ld-hh-joins-map participant[0]'],
    });
    await expectNotStored(s, 'CareTeam', 'ld-hh-joins-hh');
  });
});

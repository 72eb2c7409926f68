// scope-allowed-for-role over HTTP: an organization holds only the scopes of its role.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, episode, ORGS, PEOPLE, ROLES } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, del, expectAccepted, expectNotStored, expectRejected, expectVersion, forMember, member, post, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

describe('scope-allowed-for-role over HTTP', () => {
  it('accepts an LTSS CP on ltss-navigation and a county in its MN dual role (comprehensive)', async () => {
    const m = await member(s, 'sr-accept');
    expectAccepted(await put(s, careTeam('sr-accept-cp', [{ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] }], { patient: m })), 201);
    expectAccepted(await put(s, careTeam('sr-accept-county', [{ member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.county, scopes: ['comprehensive'] }], { patient: m })), 201);
  });

  it('rejects an LTSS CP holding care-transitions, and stores nothing', async () => {
    const m = await member(s, 'sr-cp');
    const res = await put(s, careTeam('sr-cp', [{ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['care-transitions'] }], { patient: m }));
    expectRejected(res, 'scope-allowed-for-role', { expression: ['CareTeam.participant[0].extension[0]'], diagnostics: ['Organization/ma-bshc-cp is ltss-cp'] });
    await expectNotStored(s, 'CareTeam', 'sr-cp');
  });

  it('rejects the LTSS TPA holding any scope (posted)', async () => {
    const m = await member(s, 'sr-tpa');
    const res = await post(s, careTeam('x', [{ member: PEOPLE.maCm, onBehalfOf: ORGS.tpa, scopes: ['ltss-navigation'] }], { patient: m }));
    expectRejected(res, 'scope-allowed-for-role', { expression: ['CareTeam.participant[0].extension[0]'], diagnostics: ['Organization/ma-tpa'] });
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(0);
  });

  it('accepts an MN MCO on waiver-case-management for an Elderly Waiver member, and rejects deleting that enrolment', async () => {
    const m = await member(s, 'sr-ew');
    expectAccepted(await put(s, forMember(episode('sr-ew-ew', 'mn-elderly-waiver', ORGS.mnMco), m)), 201);
    expectAccepted(await put(s, careTeam('sr-ew-team', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['comprehensive', 'waiver-case-management'] }], { patient: m })), 201);
    const res = await del(s, 'EpisodeOfCare', 'sr-ew-ew');
    expectRejected(res, 'scope-allowed-for-role', { diagnostics: ['CareTeam/sr-ew-team (not in this write)'] });
    await expectVersion(s, 'EpisodeOfCare', 'sr-ew-ew', '1');
  });

  it('rejects an MN MCO on waiver-case-management without an Elderly Waiver enrolment', async () => {
    const m = await member(s, 'sr-no-ew');
    const res = await put(s, careTeam('sr-no-ew', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['waiver-case-management'] }], { patient: m }));
    expectRejected(res, 'scope-allowed-for-role', { expression: ['CareTeam.participant[0].extension[0]'], diagnostics: ['Organization/mn-ucare'] });
    await expectNotStored(s, 'CareTeam', 'sr-no-ew');
  });

  // Contract 2026-12: "enrolled in" is coverage. main accepted this holding because one month of
  // Elderly Waiver enrolment overlapped it.
  it('rejects an MN MCO holding waiver-case-management 2026-2030 when the Elderly Waiver enrolment covers one month of it', async () => {
    const m = await member(s, 'sr-ew-month');
    expectAccepted(await put(s, forMember(episode('sr-ew-month-ew', 'mn-elderly-waiver', ORGS.mnMco, { start: '2026-01-01', end: '2026-01-31' }), m)), 201);
    const team = careTeam('sr-ew-month', [{ member: ROLES.mnRnAtUcare, scopes: ['waiver-case-management'], period: { start: '2026-01-01', end: '2030-12-31' } }], { patient: m });
    expectRejected(await put(s, team), 'scope-allowed-for-role', { expression: ['CareTeam.participant[0].extension[0]'], diagnostics: ['Organization/mn-ucare'] });
    await expectNotStored(s, 'CareTeam', 'sr-ew-month');
    // An enrolment that continues it covers the whole holding: now accepted.
    expectAccepted(await put(s, forMember(episode('sr-ew-month-ew2', 'mn-elderly-waiver', ORGS.mnMco, { start: '2026-02-01' }), m)), 201);
    expectAccepted(await put(s, team), 201);
  });
});

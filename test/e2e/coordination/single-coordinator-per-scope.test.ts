// single-coordinator-per-scope over HTTP: each coordination scope of a member is held by at most one
// organization at any instant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, ORGS, PEOPLE, ROLES } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectNotStored, expectRejected, expectVersion, member, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

describe('single-coordinator-per-scope over HTTP', () => {
  it('accepts the MLTCP plan on ltc and the Health Home on bh-and-out-of-plan, and two people of one CP sharing a scope', async () => {
    const m = await member(s, 'sc-accept');
    expectAccepted(await put(s, careTeam('sc-accept-plan', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, scopes: ['ltc', 'care-transitions'] }], { patient: m })), 201);
    expectAccepted(await put(s, careTeam('sc-accept-hh', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'] }], { patient: m })), 201);
    const m2 = await member(s, 'sc-accept-ma');
    const cpTeam = careTeam('sc-accept-cp', [
      { member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] },
      { member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] },
    ], { patient: m2 });
    expectAccepted(await put(s, cpTeam), 201);
  });

  it('rejects a second organization taking care-transitions for an overlapping period, naming the holder', async () => {
    const m = await member(s, 'sc-reject');
    expectAccepted(await put(s, careTeam('sc-reject-plan', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, scopes: ['ltc', 'care-transitions'] }], { patient: m })), 201);
    const res = await put(s, careTeam('sc-reject-hh', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan', 'care-transitions'], period: { start: '2026-03-01' } }], { patient: m }));
    expectRejected(res, 'single-coordinator-per-scope', {
      expression: ['CareTeam.participant[0].extension[1]'],
      diagnostics: ['Organization/ny-vns-mltc already holds care-transitions on CareTeam/sc-reject-plan participant[0]'],
    });
    await expectNotStored(s, 'CareTeam', 'sc-reject-hh');
    expect(await count(s, 'CareTeam', `subject=Patient/${m}`)).toBe(1);
  });

  it('rejects a second LTSS CP joining the same team on ltss-navigation, and keeps the stored team', async () => {
    const m = await member(s, 'sc-cp');
    const one = careTeam('sc-cp', [{ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] }], { patient: m });
    expectAccepted(await put(s, one), 201);
    const two = careTeam('sc-cp', [
      { member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] },
      { member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp2, scopes: ['ltss-navigation'], period: { start: '2026-02-01' } },
    ], { patient: m });
    expectRejected(await put(s, two), 'single-coordinator-per-scope', {
      expression: ['CareTeam.participant[1].extension[0]'],
      diagnostics: ['Organization/ma-bshc-cp already holds ltss-navigation on CareTeam/sc-cp participant[0]'],
    });
    await expectVersion(s, 'CareTeam', 'sc-cp', '1');
  });

  it('accepts the next CP once the first CP\'s participation ended the day before', async () => {
    const m = await member(s, 'sc-seq');
    expectAccepted(await put(s, careTeam('sc-seq-1', [{ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'], period: { start: '2026-01-01', end: '2026-04-30' } }], { patient: m })), 201);
    expectAccepted(await put(s, careTeam('sc-seq-2', [{ member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp2, scopes: ['ltss-navigation'], period: { start: '2026-05-01' } }], { patient: m })), 201);
  });
});

describe('the participant\'s organization (contract 2026-12)', () => {
  it('refuses onBehalfOf beside a PractitionerRole member (R4 ctm-1): the role acts for its own organization', async () => {
    const m = await member(s, 'po-ctm1');
    const team = careTeam('po-ctm1', [{ member: ROLES.nySwAtHh, scopes: ['bh-and-out-of-plan'] }], { patient: m });
    const p = team.participant?.[0];
    if (p) p.onBehalfOf = { reference: `Organization/${ORGS.hh2.id ?? ''}` };
    const res = await put(s, team);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.body).toContain('ctm-1');
    await expectNotStored(s, 'CareTeam', 'po-ctm1');
  });

  it('an Organization member holds a scope for itself, and collides with another organization\'s holding', async () => {
    const m = await member(s, 'po-org');
    expectAccepted(await put(s, careTeam('po-org-hh', [{ member: ROLES.nySwAtHh, scopes: ['bh-and-out-of-plan'] }], { patient: m })), 201);
    expectRejected(await put(s, careTeam('po-org-hh2', [{ member: ORGS.hh2, scopes: ['bh-and-out-of-plan'] }], { patient: m })), 'single-coordinator-per-scope', {
      diagnostics: ['Organization/ny-cbc-hh already holds bh-and-out-of-plan'],
    });
  });
});

import { describe, expect, it } from 'vitest';
import { singleCoordinatorPerScope } from '../../../src/coordination/rules/single-coordinator-per-scope.js';
import { careTeam, check, create, ORGS, PEOPLE, ROLES, update, world } from './builders.js';

describe('single-coordinator-per-scope', () => {
  it('accepts the MLTCP plan on ltc and the Health Home on bh-and-out-of-plan', async () => {
    const team = careTeam('ny-team', [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, scopes: ['ltc', 'care-transitions'] },
      { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'] },
    ]);
    expect(await check(world(), [create(team)], singleCoordinatorPerScope)).toEqual([]);
  });

  it('accepts two people of the same organization holding the same scope', async () => {
    const team = careTeam('ny-team', [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, scopes: ['ltc'] },
      { member: PEOPLE.nySw, onBehalfOf: ORGS.mltcp, scopes: ['ltc'] },
    ]);
    expect(await check(world(), [create(team)], singleCoordinatorPerScope)).toEqual([]);
  });

  it('rejects a second organization taking care-transitions for an overlapping period', async () => {
    const existing = careTeam('ny-team', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, scopes: ['ltc', 'care-transitions'] }]);
    const hhTeam = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan', 'care-transitions'] }]);
    const issues = await check(world(existing), [create(hhTeam)], singleCoordinatorPerScope);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[0].extension[1]']);
    expect(issues[0]?.diagnostics).toContain('Organization/ny-vns-mltc already holds care-transitions on CareTeam/ny-team participant[0]');
  });

  it('rejects an MA LTSS CP taking ltss-navigation another CP holds', async () => {
    const existing = careTeam('ma-team', [{ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] }]);
    const updated = careTeam('ma-team', [
      { member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] },
      { member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp2, scopes: ['ltss-navigation'], period: { start: '2026-05-01' } },
    ]);
    const issues = await check(world(existing), [update(updated, existing)], singleCoordinatorPerScope);
    expect(issues.map((i) => i.expression)).toEqual([['CareTeam.participant[1].extension[0]']]);
  });

  it('accepts a CP-to-CP handoff ending 2026-04-30 and starting 2026-05-01 in one transaction', async () => {
    const existing = careTeam('ma-team', [{ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] }]);
    const handed = careTeam('ma-team', [
      { member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'], period: { start: '2026-01-01', end: '2026-04-30' } },
      { member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp2, scopes: ['ltss-navigation'], period: { start: '2026-05-01' } },
    ]);
    expect(await check(world(existing), [update(handed, existing)], singleCoordinatorPerScope)).toEqual([]);
  });

  it('rejects the same handoff when the old end is 2026-05-01', async () => {
    const handed = careTeam('ma-team', [
      { member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'], period: { start: '2026-01-01', end: '2026-05-01' } },
      { member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp2, scopes: ['ltss-navigation'], period: { start: '2026-05-01' } },
    ]);
    expect(await check(world(), [create(handed)], singleCoordinatorPerScope)).toHaveLength(1);
  });

  it('ignores teams that are inactive', async () => {
    const old = careTeam('old', [{ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] }], { status: 'inactive' });
    const team = careTeam('ma-team', [{ member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp2, scopes: ['ltss-navigation'] }]);
    expect(await check(world(old), [create(team)], singleCoordinatorPerScope)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { scopeAllowedForRole } from '../../../src/coordination/rules/scope-allowed-for-role.js';
import { careTeam, check, create, episode, ORGS, PEOPLE, remove, ROLES, update, world } from './builders.js';

describe('scope-allowed-for-role', () => {
  it.each([
    ['mltcp', ORGS.mltcp, 'ltc'],
    ['map', ORGS.map, 'comprehensive'],
    ['health home', ORGS.hh, 'bh-and-out-of-plan'],
    ['aco', ORGS.aco, 'medical'],
    ['ltss-cp', ORGS.ltssCp, 'ltss-navigation'],
    ['bh-cp', ORGS.bhCp, 'bh-and-out-of-plan'],
    ['waiver agency', ORGS.asap, 'waiver-case-management'],
    ['county dual role', ORGS.county, 'comprehensive'],
    ['tribal nation', ORGS.tribe, 'waiver-case-management'],
  ])('accepts the %s holding its own scope', async (_name, o, scope) => {
    const team = careTeam('t', [{ member: PEOPLE.maCm, onBehalfOf: o, scopes: [scope] }]);
    expect(await check(world(), [create(team)], scopeAllowedForRole)).toEqual([]);
  });

  it.each([
    ['mltcp', ORGS.mltcp, 'comprehensive'],
    ['health home', ORGS.hh, 'ltc'],
    ['ltss-cp', ORGS.ltssCp, 'care-transitions'],
    ['tpa', ORGS.tpa, 'ltss-navigation'],
    ['ltss provider', ORGS.provider, 'ltc'],
    ['mco without elderly waiver', ORGS.mnMco, 'waiver-case-management'],
  ])('rejects the %s holding %s', async (_name, o, scope) => {
    const team = careTeam('t', [{ member: PEOPLE.maCm, onBehalfOf: o, scopes: [scope] }]);
    const issues = await check(world(), [create(team)], scopeAllowedForRole);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[0].extension[0]']);
    expect(issues[0]?.diagnostics).toContain(`Organization/${o.id ?? ''}`);
  });

  it('accepts an MN MCO holding waiver-case-management for an Elderly Waiver member', async () => {
    const ew = episode('ew', 'mn-elderly-waiver', ORGS.mnMco);
    const team = careTeam('mn-team', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['comprehensive', 'waiver-case-management'] }]);
    expect(await check(world(ew), [create(team)], scopeAllowedForRole)).toEqual([]);
  });

  it('rejects an MCO holding waiver-case-management 2026-2030 when the Elderly Waiver enrolment covers one month of it (coverage, not overlap)', async () => {
    const oneMonth = episode('ew', 'mn-elderly-waiver', ORGS.mnMco, { start: '2026-01-01', end: '2026-01-31' });
    const span = { start: '2026-01-01', end: '2030-12-31' };
    const team = careTeam('mn-team', [{ member: ROLES.mnRnAtUcare, scopes: ['waiver-case-management'], period: span }]);
    expect(await check(world(oneMonth), [create(team)], scopeAllowedForRole)).toHaveLength(1);
    // Two enrolments that together cover the holding are enough.
    const rest = episode('ew-2', 'mn-elderly-waiver', ORGS.mnMco, { start: '2026-02-01' });
    expect(await check(world(oneMonth, rest), [create(team)], scopeAllowedForRole)).toEqual([]);
  });

  it('rejects deleting the Elderly Waiver enrolment that the MCO\'s waiver-case-management relies on', async () => {
    const ew = episode('ew', 'mn-elderly-waiver', ORGS.mnMco);
    const team = careTeam('mn-team', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['waiver-case-management'] }]);
    const issues = await check(world(ew, team), [remove(ew)], scopeAllowedForRole);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.diagnostics).toContain('CareTeam/mn-team (not in this write)');
  });

  it('accepts ending the Elderly Waiver when the team drops the scope in the same transaction', async () => {
    const ew = episode('ew', 'mn-elderly-waiver', ORGS.mnMco);
    const team = careTeam('mn-team', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['comprehensive', 'waiver-case-management'] }]);
    const finished = { ...ew, status: 'finished' as const };
    const dropped = careTeam('mn-team', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['comprehensive'] }]);
    expect(await check(world(ew, team), [update(finished, ew), update(dropped, team)], scopeAllowedForRole)).toEqual([]);
  });

  it('rejects a scope held by a participant with no organization', async () => {
    const team = careTeam('t', [{ member: PEOPLE.maCm, scopes: ['medical'] }]);
    expect(await check(world(), [create(team)], scopeAllowedForRole)).toHaveLength(1);
  });

  it('takes the organization of a PractitionerRole member when onBehalfOf is absent', async () => {
    const team = careTeam('t', [{ member: ROLES.acoCm, scopes: ['medical'] }]);
    expect(await check(world(), [create(team)], scopeAllowedForRole)).toEqual([]);
  });

  it('matches scope codings on system and code: a coding without a system holds no contract scope', async () => {
    const team = careTeam('t', [{ member: PEOPLE.maCm, onBehalfOf: ORGS.tpa, scopes: ['ltss-navigation'] }]);
    const ext = team.participant?.[0]?.extension?.[0];
    if (ext?.valueCoding) delete ext.valueCoding.system;
    expect(await check(world(), [create(team)], scopeAllowedForRole)).toEqual([]);
  });
});

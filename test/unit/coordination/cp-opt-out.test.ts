import type { Period } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { cpOptOut } from '../../../src/coordination/rules/cp-opt-out.js';
import { careTeam, check, create, optOut, ORGS, PEOPLE, ROLES, serviceRequest, update, world } from './builders.js';

const aco = { member: ROLES.acoCm, onBehalfOf: ORGS.aco, scopes: ['medical'] };
const cp = (period: Period = { start: '2026-01-01' }) => ({ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'], period });
const consent = optOut('opt', ORGS.ltssCp, '2026-04-01');

describe('cp-opt-out', () => {
  it('accepts a CP joining when the member has not opted out', async () => {
    expect(await check(world(), [create(careTeam('ma-team', [aco, cp()]))], cpOptOut)).toEqual([]);
  });

  it('rejects the opted-out CP joining the member\'s team', async () => {
    const team = careTeam('ma-team', [aco]);
    const joined = careTeam('ma-team', [aco, cp({ start: '2026-05-01' })]);
    const issues = await check(world(team, consent), [update(joined, team)], cpOptOut);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[1].member']);
    expect(issues[0]?.diagnostics).toContain('Consent/opt');
  });

  it('accepts a CP participation that ended the day before the opt-out', async () => {
    const team = careTeam('ma-team', [aco, cp({ start: '2026-01-01', end: '2026-03-31' })]);
    expect(await check(world(consent), [create(team)], cpOptOut)).toEqual([]);
  });

  it('never refuses recording the opt-out, and lets the team end the CP afterwards', async () => {
    const team = careTeam('ma-team', [aco, cp()]);
    expect(await check(world(team), [create(consent)], cpOptOut)).toEqual([]);
    const ended = careTeam('ma-team', [aco, cp({ start: '2026-01-01', end: '2026-03-31' })]);
    expect(await check(world(team, consent), [update(ended, team)], cpOptOut)).toEqual([]);
  });

  it('rejects a CP staff member joining on behalf of the ACO while the member opted out of the CP', async () => {
    const team = careTeam('ma-team', [aco, { member: ROLES.cpNavigator, onBehalfOf: ORGS.aco, period: { start: '2026-05-01' } }]);
    expect(await check(world(consent), [create(team)], cpOptOut)).toHaveLength(1);
  });

  it('rejects the opted-out CP requesting services', async () => {
    const sr = serviceRequest('sr1', { code: 'S5100', requester: ROLES.cpNavigator, intent: 'proposal', period: { start: '2026-05-01' } });
    const issues = await check(world(consent), [create(sr)], cpOptOut);
    expect(issues[0]?.expression).toEqual(['ServiceRequest.requester']);
  });

  it('ignores an opt-out Consent that is inactive, or a permit', async () => {
    const inactive = optOut('opt', ORGS.ltssCp, '2026-04-01', 'inactive');
    const permit = optOut('opt2', ORGS.ltssCp, '2026-04-01');
    permit.provision = { ...permit.provision, type: 'permit' };
    expect(await check(world(inactive, permit), [create(careTeam('ma-team', [aco, cp()]))], cpOptOut)).toEqual([]);
  });

  it('does not affect other organizations', async () => {
    const team = careTeam('ma-team', [aco, { member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp2, scopes: ['ltss-navigation'] }]);
    expect(await check(world(consent), [create(team)], cpOptOut)).toEqual([]);
  });
});

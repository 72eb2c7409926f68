import { describe, expect, it } from 'vitest';
import { leadDocumented } from '../../../src/coordination/rules/lead-documented.js';
import { Extensions } from '../../../src/coordination/codes.js';
import { careTeam, check, create, leadDesignation, ORGS, PEOPLE, ROLES, update, world } from './builders.js';

const hhMember = { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'] };

describe('lead-documented', () => {
  it('accepts a lead designated jointly by the MLTCP plan and the Health Home', async () => {
    const team = careTeam('ny-team', [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] },
      hhMember,
    ]);
    expect(await check(world(), [create(team)], leadDocumented)).toEqual([]);
  });

  it('accepts a lead designated by the plan alone when no Health Home is on the member\'s teams', async () => {
    const team = careTeam('ny-team', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] }]);
    expect(await check(world(), [create(team)], leadDocumented)).toEqual([]);
  });

  it('rejects a lead without lead-designation', async () => {
    const team = careTeam('ny-team', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designation: false }]);
    const issues = await check(world(), [create(team)], leadDocumented);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[0].extension']);
    expect(issues[0]?.diagnostics).toContain('designatedBy, basis, reason, date');
  });

  it('rejects a designation missing its reason and date', async () => {
    const team = careTeam('ny-team', [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designation: leadDesignation([ORGS.mltcp], ['reason', 'date']) },
    ]);
    const issues = await check(world(), [create(team)], leadDocumented);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[0].extension[0]']);
    expect(issues[0]?.diagnostics).toContain('reason, date');
  });

  it('rejects a basis that is not a DocumentReference or QuestionnaireResponse', async () => {
    const bad = leadDesignation([ORGS.mltcp]);
    bad.extension = bad.extension?.map((e) => (e.url === 'basis' ? { url: 'basis', valueReference: { reference: 'Observation/x' } } : e));
    const team = careTeam('ny-team', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designation: bad }]);
    expect((await check(world(), [create(team)], leadDocumented))[0]?.diagnostics).toContain('basis');
  });

  it('rejects a lead designated by the plan only while a Health Home is on the team', async () => {
    const team = careTeam('ny-team', [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] },
      hhMember,
    ]);
    const issues = await check(world(), [create(team)], leadDocumented);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[0].extension[0]']);
    expect(issues[0]?.diagnostics).toContain('Health Home Organization/ny-cbc-hh');
  });

  it('rejects a Health Home team joining while the MAP plan\'s lead was designated by the plan alone, at the Health Home participant', async () => {
    const planTeam = careTeam('map-team', [{ member: PEOPLE.nyRn, onBehalfOf: ORGS.map, lead: true, designatedBy: [ORGS.map] }]);
    const hhTeam = careTeam('hh-team', [hhMember]);
    const issues = await check(world(planTeam), [create(hhTeam)], leadDocumented);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[0].member']);
    expect(issues[0]?.diagnostics).toContain('CareTeam/map-team participant[0]');
  });

  it('accepts the same Health Home joining when the designation is updated in the same transaction', async () => {
    const planTeam = careTeam('map-team', [{ member: PEOPLE.nyRn, onBehalfOf: ORGS.map, lead: true, designatedBy: [ORGS.map] }]);
    const redesignated = careTeam('map-team', [{ member: PEOPLE.nyRn, onBehalfOf: ORGS.map, lead: true, designatedBy: [ORGS.map, ORGS.hh] }]);
    const hhTeam = careTeam('hh-team', [hhMember]);
    expect(await check(world(planTeam), [update(redesignated, planTeam), create(hhTeam)], leadDocumented)).toEqual([]);
  });

  it('does not require the Health Home when its participation ended before the lead started', async () => {
    const team = careTeam('ny-team', [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp], period: { start: '2026-07-01' } },
      { ...hhMember, period: { start: '2025-01-01', end: '2026-06-30' } },
    ]);
    expect(await check(world(), [create(team)], leadDocumented)).toEqual([]);
  });

  it('uses the contract extension url', () => {
    expect(Extensions.leadDesignation).toBe('https://concord-fhir.org/fhir/StructureDefinition/lead-designation');
  });
});

import type { Period, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { singleLead } from '../../../src/coordination/rules/single-lead.js';
import { CodeSystems } from '../../../src/coordination/codes.js';
import { careTeam, check, create, ORGS, PEOPLE, ROLES, update, world } from './builders.js';

const leadAt = (member: Resource = ROLES.nyRnAtMltcp, period: Period = { start: '2026-01-01' }) => ({
  member,
  onBehalfOf: ORGS.mltcp,
  lead: true,
  designatedBy: [ORGS.mltcp, ORGS.hh],
  period,
});

describe('single-lead', () => {
  it('accepts a first lead care manager', async () => {
    const team = careTeam('ny-team', [leadAt()]);
    expect(await check(world(), [create(team)], singleLead)).toEqual([]);
  });

  it('rejects a second lead on another team for an overlapping period', async () => {
    const existing = careTeam('ny-team', [leadAt()]);
    const hhTeam = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], period: { start: '2026-03-01' } }]);
    const issues = await check(world(existing), [create(hhTeam)], singleLead);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      severity: 'error',
      code: 'business-rule',
      details: { coding: [{ system: CodeSystems.rule, code: 'single-lead' }] },
      expression: ['CareTeam.participant[0].role'],
    });
    expect(issues[0]?.diagnostics).toContain('CareTeam/ny-team participant[0]');
    expect(issues[0]?.details?.text).toMatch(/already has a lead care manager/);
  });

  it('rejects two leads on the same team, pointing at the second', async () => {
    const team = careTeam('ny-team', [leadAt(), { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.hh] }]);
    const issues = await check(world(), [create(team)], singleLead);
    expect(issues.map((i) => i.expression)).toEqual([['CareTeam.participant[1].role']]);
    expect(issues[0]?.diagnostics).toContain('CareTeam/ny-team participant[0]');
  });

  it('accepts a handoff transaction: old lead ends 2026-06-30, new lead starts 2026-07-01', async () => {
    const old = careTeam('ny-team', [leadAt()]);
    const ended = careTeam('ny-team', [leadAt(ROLES.nyRnAtMltcp, { start: '2026-01-01', end: '2026-06-30' })]);
    const next = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], period: { start: '2026-07-01' } }]);
    expect(await check(world(old), [update(ended, old), create(next)], singleLead)).toEqual([]);
  });

  it('rejects a handoff whose old lead ends 2026-07-01 when the new one starts 2026-07-01', async () => {
    const old = careTeam('ny-team', [leadAt()]);
    const ended = careTeam('ny-team', [leadAt(ROLES.nyRnAtMltcp, { start: '2026-01-01', end: '2026-07-01' })]);
    const next = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.hh], period: { start: '2026-07-01' } }]);
    const issues = await check(world(old), [update(ended, old), create(next)], singleLead);
    expect(issues).toHaveLength(1);
  });

  it('rejects the new lead alone when the old lead has not been ended (no transaction)', async () => {
    const old = careTeam('ny-team', [leadAt()]);
    const next = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.hh], period: { start: '2026-07-01' } }]);
    expect(await check(world(old), [create(next)], singleLead)).toHaveLength(1);
  });

  it('compares by precision: an end of 2026 covers the whole year', async () => {
    const old = careTeam('ny-team', [leadAt(ROLES.nyRnAtMltcp, { start: '2025', end: '2026' })]);
    const lateDec = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, period: { start: '2026-12-31T23:00:00Z' } }]);
    const jan = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, period: { start: '2027-01-01' } }]);
    expect(await check(world(old), [create(lateDec)], singleLead)).toHaveLength(1);
    expect(await check(world(old), [create(jan)], singleLead)).toEqual([]);
  });

  it('ignores leads of inactive teams and of teams whose period has ended', async () => {
    const inactive = careTeam('old-team', [leadAt()], { status: 'inactive' });
    const ended = careTeam('older-team', [leadAt()], { period: { start: '2025-01-01', end: '2026-06-30' } });
    const next = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, period: { start: '2026-07-01' } }]);
    expect(await check(world(inactive, ended), [create(next)], singleLead)).toEqual([]);
  });

  it('counts proposed and suspended teams as active', async () => {
    const proposed = careTeam('p-team', [leadAt()], { status: 'proposed' });
    const next = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true }], { status: 'suspended' });
    expect(await check(world(proposed), [create(next)], singleLead)).toHaveLength(1);
  });

  it('accepts the same care manager recorded as lead on the plan team and the Health Home team', async () => {
    const planTeam = careTeam('ny-team', [leadAt()]);
    const hhTeam = careTeam('hh-team', [leadAt()]);
    expect(await check(world(planTeam), [create(hhTeam)], singleLead)).toEqual([]);
  });

  it('does not block an unrelated update of a team caught in a pre-existing conflict', async () => {
    const a = careTeam('ny-team', [leadAt()]);
    const b = careTeam('hh-team', [{ member: PEOPLE.nySw, onBehalfOf: ORGS.hh, lead: true }]);
    const bRenamed = { ...b, name: 'Health Home team' };
    expect(await check(world(a, b), [update(bRenamed, b)], singleLead)).toEqual([]);
  });
});

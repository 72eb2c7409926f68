import type { Period, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { coordinatorQualified } from '../../../src/coordination/rules/coordinator-qualified.js';
import { assessor, careTeam, check, create, episode, nucc, ORGS, practitioner, PEOPLE, ROLES, update, world } from './builders.js';

const lead = (member: Resource = ROLES.mnRnAtUcare, period: Period = { start: '2026-01-01' }) => ({
  member,
  onBehalfOf: ORGS.mnMco,
  lead: true,
  scopes: ['comprehensive'],
  period,
});
const msho = episode('msho', 'mn-msho', ORGS.mnMco);
const snbc = episode('snbc', 'mn-snbc', ORGS.mnMco);

describe('coordinator-qualified', () => {
  it('accepts an RN certified assessor as MSHO care coordinator', async () => {
    expect(await check(world(msho), [create(careTeam('mn-team', [lead()]))], coordinatorQualified)).toEqual([]);
  });

  it('accepts a licensed social worker without assessor certification for SNBC', async () => {
    expect(await check(world(snbc), [create(careTeam('mn-team', [lead(ROLES.mnSwAtUcare)]))], coordinatorQualified)).toEqual([]);
  });

  it('accepts a physician (any NUCC 20… code) with certification, as a Practitioner', async () => {
    const md = practitioner('mn-md', [{ coding: nucc('207Q00000X') }, { coding: assessor }]);
    const reader = world(msho).put(md);
    expect(await check(reader, [create(careTeam('mn-team', [lead(md)]))], coordinatorQualified)).toEqual([]);
  });

  it('rejects a social worker who is not a certified assessor for MSHO', async () => {
    const issues = await check(world(msho), [create(careTeam('mn-team', [lead(ROLES.mnSwAtUcare)]))], coordinatorQualified);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[0].member']);
    expect(issues[0]?.diagnostics).toContain('certified-assessor');
  });

  it('rejects a lead with no professional qualification', async () => {
    const issues = await check(world(snbc), [create(careTeam('mn-team', [lead(PEOPLE.mnClerk)]))], coordinatorQualified);
    expect(issues[0]?.details?.text).toContain('registered nurse');
  });

  it('rejects an Organization as lead', async () => {
    expect(await check(world(snbc), [create(careTeam('mn-team', [lead(ORGS.mnMco)]))], coordinatorQualified)).toHaveLength(1);
  });

  it('rejects a license that lapses during an ongoing lead period, accepts a renewal that continues it', async () => {
    const lapsing = practitioner('mn-rn-x', [{ coding: nucc('163W00000X'), period: { start: '2020-01-01', end: '2026-12-31' } }]);
    expect(await check(world(snbc).put(lapsing), [create(careTeam('mn-team', [lead(lapsing)]))], coordinatorQualified)).toHaveLength(1);
    const renewed = practitioner('mn-rn-x', [
      { coding: nucc('163W00000X'), period: { start: '2020-01-01', end: '2026-12-31' } },
      { coding: nucc('163W00000X'), period: { start: '2027-01-01' } },
    ]);
    expect(await check(world(snbc).put(renewed), [create(careTeam('mn-team', [lead(renewed)]))], coordinatorQualified)).toEqual([]);
  });

  it('only checks the part of the lead period during enrolment', async () => {
    const ended = episode('snbc', 'mn-snbc', ORGS.mnMco, { start: '2025-01-01', end: '2025-12-31' });
    expect(await check(world(ended), [create(careTeam('mn-team', [lead(PEOPLE.mnClerk)]))], coordinatorQualified)).toEqual([]);
  });

  it('does not apply outside MSHO / MSC+ / SNBC', async () => {
    const ma = episode('aco', 'ma-aco', ORGS.aco);
    expect(await check(world(ma), [create(careTeam('mn-team', [lead(PEOPLE.mnClerk)]))], coordinatorQualified)).toEqual([]);
  });

  it('rejects enrolling in MSC+ a member whose existing lead is not a certified assessor, at the EpisodeOfCare', async () => {
    const team = careTeam('mn-team', [lead(ROLES.mnSwAtUcare)]);
    const mscPlus = episode('mscplus', 'mn-msc-plus', ORGS.mnMco);
    const issues = await check(world(team), [create(mscPlus)], coordinatorQualified);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['EpisodeOfCare.type[0]']);
    expect(issues[0]?.diagnostics).toContain('CareTeam/mn-team participant[0]');
  });

  it('accepts a lead handoff to a certified assessor together with the MSC+ enrolment', async () => {
    const team = careTeam('mn-team', [lead(ROLES.mnSwAtUcare)]);
    const handed = careTeam('mn-team', [
      lead(ROLES.mnSwAtUcare, { start: '2026-01-01', end: '2026-06-30' }),
      lead(ROLES.mnRnAtUcare, { start: '2026-07-01' }),
    ]);
    const mscPlus = episode('mscplus', 'mn-msc-plus', ORGS.mnMco, { start: '2026-07-01' });
    expect(await check(world(team), [update(handed, team), create(mscPlus)], coordinatorQualified)).toEqual([]);
  });

  it('reads a PractitionerRole lead\'s NUCC specialty but not its code; certified-assessor only from Practitioner.qualification', async () => {
    const bare = practitioner('mn-bare');
    const asCode = { ...ROLES.mnRnAtUcare, id: 'role-code', practitioner: { reference: 'Practitioner/mn-bare' }, code: [{ coding: [nucc('163W00000X')] }] };
    const asSpecialty = { ...ROLES.mnRnAtUcare, id: 'role-specialty', practitioner: { reference: 'Practitioner/mn-bare' }, specialty: [{ coding: [nucc('163W00000X')] }] };
    expect(await check(world(snbc, bare, asCode), [create(careTeam('t', [lead(asCode)]))], coordinatorQualified)).toHaveLength(1);
    expect(await check(world(snbc, bare, asSpecialty), [create(careTeam('t', [lead(asSpecialty)]))], coordinatorQualified)).toEqual([]);
    const assessorSpecialty = { ...asSpecialty, id: 'role-assessor', specialty: [{ coding: [nucc('163W00000X')] }, { coding: [assessor] }] };
    const issues = await check(world(msho, bare, assessorSpecialty), [create(careTeam('t', [lead(assessorSpecialty)]))], coordinatorQualified);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.diagnostics).toContain('certified-assessor');
  });
});

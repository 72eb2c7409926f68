import { describe, expect, it } from 'vitest';
import { waiverCaseManagerMatchesWaiver } from '../../../src/coordination/rules/waiver-case-manager-matches-waiver.js';
import { careTeam, check, create, episode, ORGS, PEOPLE, ROLES, world } from './builders.js';

const mcoLead = { member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, lead: true, scopes: ['comprehensive'] };
const msho = episode('msho', 'mn-msho', ORGS.mnMco);
const ew = episode('ew', 'mn-elderly-waiver', ORGS.mnMco);
const dw = episode('dw', 'mn-disability-waiver', ORGS.county);

describe('waiver-case-manager-matches-waiver', () => {
  it('accepts the county holding disability waiver case management', async () => {
    const team = careTeam('mn-team', [mcoLead, { member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.county, scopes: ['waiver-case-management'] }]);
    expect(await check(world(msho, dw), [create(team)], waiverCaseManagerMatchesWaiver)).toEqual([]);
  });

  it('rejects an MCO holding disability waiver case management', async () => {
    const team = careTeam('mn-team', [{ ...mcoLead, scopes: ['comprehensive', 'waiver-case-management'] }]);
    const issues = await check(world(msho, dw), [create(team)], waiverCaseManagerMatchesWaiver);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[0].extension[2]']);
  });

  it('rejects enrolling in a disability waiver while an ASAP-type agency holds waiver case management, at the EpisodeOfCare', async () => {
    const team = careTeam('mn-team', [mcoLead, { member: PEOPLE.maCm, onBehalfOf: ORGS.asap, scopes: ['waiver-case-management'] }]);
    const issues = await check(world(msho, team), [create(dw)], waiverCaseManagerMatchesWaiver);
    expect(issues[0]?.expression).toEqual(['EpisodeOfCare.type[0]']);
  });

  it('accepts the lead\'s MCO holding Elderly Waiver case management for an MSHO member', async () => {
    const team = careTeam('mn-team', [{ ...mcoLead, scopes: ['comprehensive', 'waiver-case-management'] }]);
    expect(await check(world(msho, ew), [create(team)], waiverCaseManagerMatchesWaiver)).toEqual([]);
  });

  it('rejects a waiver agency holding Elderly Waiver case management when the lead works for the MCO', async () => {
    const team = careTeam('mn-team', [mcoLead, { member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.asap, scopes: ['waiver-case-management'] }]);
    const issues = await check(world(msho, ew), [create(team)], waiverCaseManagerMatchesWaiver);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CareTeam.participant[1].extension[0]']);
    expect(issues[0]?.diagnostics).toContain('CareTeam/mn-team participant[0] (Organization/mn-ucare)');
  });

  it('accepts a tribal nation the member chose for Elderly Waiver services', async () => {
    const team = careTeam('mn-team', [mcoLead, { member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.tribe, scopes: ['waiver-case-management'] }]);
    expect(await check(world(msho, ew), [create(team)], waiverCaseManagerMatchesWaiver)).toEqual([]);
  });

  it('rejects another MCO holding it while there is no lead: only the MCO managing the MSHO enrolment may', async () => {
    const team = careTeam('mn-team', [{ member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.mnMco2, scopes: ['waiver-case-management'] }]);
    const issues = await check(world(msho, ew), [create(team)], waiverCaseManagerMatchesWaiver);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.diagnostics).toContain('not the MCO managing EpisodeOfCare/msho (Organization/mn-ucare)');
    const mcoTeam = careTeam('mn-team', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['waiver-case-management'] }]);
    expect(await check(world(msho, ew), [create(mcoTeam)], waiverCaseManagerMatchesWaiver)).toEqual([]);
  });

  it('does not apply to an Elderly Waiver member outside MSHO / MSC+', async () => {
    const team = careTeam('mn-team', [mcoLead, { member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.county, scopes: ['waiver-case-management'] }]);
    expect(await check(world(ew), [create(team)], waiverCaseManagerMatchesWaiver)).toEqual([]);
  });

  it('accepts a county in its dual role holding Elderly Waiver case management (contract: lead\'s organization, county or tribal nation)', async () => {
    const team = careTeam('mn-team', [mcoLead, { member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.county, scopes: ['waiver-case-management'] }]);
    expect(await check(world(msho, ew), [create(team)], waiverCaseManagerMatchesWaiver)).toEqual([]);
  });
});

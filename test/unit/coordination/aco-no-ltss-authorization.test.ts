import { describe, expect, it } from 'vitest';
import { acoNoLtssAuthorization } from '../../../src/coordination/rules/aco-no-ltss-authorization.js';
import { check, create, episode, ORGS, ROLES, serviceRequest, world } from './builders.js';

describe('aco-no-ltss-authorization', () => {
  it('accepts an ACO ordering a medical service', async () => {
    const sr = serviceRequest('sr1', { code: '99495', requester: ROLES.acoCm, category: 'medical' });
    expect(await check(world(), [create(sr)], acoNoLtssAuthorization)).toEqual([]);
  });

  it('accepts an ACO referral (proposal) for community LTSS', async () => {
    const sr = serviceRequest('sr1', { code: 'S5100', requester: ROLES.acoCm, category: 'community-ltss', intent: 'proposal' });
    expect(await check(world(), [create(sr)], acoNoLtssAuthorization)).toEqual([]);
  });

  it('rejects an ACO ordering adult day health (community LTSS)', async () => {
    const sr = serviceRequest('sr1', { code: 'S5100', requester: ROLES.acoCm, category: 'community-ltss' });
    const issues = await check(world(), [create(sr)], acoNoLtssAuthorization);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['ServiceRequest.category[0]']);
    expect(issues[0]?.diagnostics).toContain('Organization/ma-bmc-aco');
  });

  it('rejects an MA MCO ordering HCBS waiver services', async () => {
    const sr = serviceRequest('sr1', { code: 'S5170', requester: ORGS.mco, category: 'hcbs-waiver' });
    expect(await check(world(), [create(sr)], acoNoLtssAuthorization)).toHaveLength(1);
  });

  it('accepts the MN MCO care coordinator ordering Elderly Waiver services for an MSHO member', async () => {
    const sr = serviceRequest('sr1', { code: 'S5170', requester: ROLES.mnRnAtUcare, category: 'hcbs-waiver' });
    const ew = episode('ew', 'mn-elderly-waiver', ORGS.mnMco);
    const msho = episode('msho', 'mn-msho', ORGS.mnMco);
    expect(await check(world(ew, msho), [create(sr)], acoNoLtssAuthorization)).toEqual([]);
  });

  it('rejects the MN MCO ordering waiver services for a member on the Elderly Waiver but not in MSHO/MSC+', async () => {
    const sr = serviceRequest('sr1', { code: 'S5170', requester: ROLES.mnRnAtUcare, category: 'hcbs-waiver' });
    const ew = episode('ew', 'mn-elderly-waiver', ORGS.mnMco);
    expect(await check(world(ew), [create(sr)], acoNoLtssAuthorization)).toHaveLength(1);
  });

  it('leaves waiver agencies alone', async () => {
    const sr = serviceRequest('sr1', { code: 'S5170', requester: ORGS.asap, category: 'hcbs-waiver' });
    expect(await check(world(), [create(sr)], acoNoLtssAuthorization)).toEqual([]);
  });

  it('accepts the MN exception only when the EW and MSHO/MSC+ enrolments cover the whole occurrence, only for an mco, only for hcbs-waiver', async () => {
    const period = { start: '2026-01-01', end: '2026-12-31' };
    const sr = serviceRequest('sr1', { code: 'S5170', requester: ROLES.mnRnAtUcare, category: 'hcbs-waiver', period });
    const ew = episode('ew', 'mn-elderly-waiver', ORGS.mnMco, { start: '2026-01-01' });
    const mshoMonth = episode('msho', 'mn-msho', ORGS.mnMco, { start: '2026-01-01', end: '2026-01-31' });
    expect(await check(world(ew, mshoMonth), [create(sr)], acoNoLtssAuthorization)).toHaveLength(1);
    const mscPlus = episode('msc', 'mn-msc-plus', ORGS.mnMco, { start: '2025-06-01' });
    expect(await check(world(ew, mshoMonth, mscPlus), [create(sr)], acoNoLtssAuthorization)).toEqual([]);
    const ewMonth = episode('ew', 'mn-elderly-waiver', ORGS.mnMco, { start: '2026-01-01', end: '2026-01-31' });
    expect(await check(world(ewMonth, mscPlus), [create(sr)], acoNoLtssAuthorization)).toHaveLength(1);
    const community = serviceRequest('sr2', { code: 'S5170', requester: ROLES.mnRnAtUcare, category: 'community-ltss', period });
    expect(await check(world(ew, mscPlus), [create(community)], acoNoLtssAuthorization)).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import { requestMatchesSplit } from '../../../src/coordination/rules/request-matches-split.js';
import { check, create, ORGS, PEOPLE, ROLES, serviceRequest, splitPlan, update, world } from './builders.js';

const plan = splitPlan('asa', {
  appendix: 'A',
  parties: [ORGS.mltcp, ORGS.hh],
  activities: [
    { service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp },
    { service: 'G9001', benefit: 'out-of-plan', party: ORGS.hh },
  ],
});

describe('request-matches-split', () => {
  it('accepts personal care requested by the MLTCP plan\'s care manager, based on the split plan', async () => {
    const sr = serviceRequest('sr1', { code: 'T1019', requester: ROLES.nyRnAtMltcp, basedOn: 'CarePlan/asa', category: 'state-plan-ltss' });
    expect(await check(world(plan), [create(sr)], requestMatchesSplit)).toEqual([]);
  });

  it('accepts an out-of-plan service requested by the Health Home organization', async () => {
    const sr = serviceRequest('sr1', { code: 'G9001', requester: ORGS.hh, basedOn: 'CarePlan/asa', category: 'care-management' });
    expect(await check(world(plan), [create(sr)], requestMatchesSplit)).toEqual([]);
  });

  it('rejects a request not based on the split plan', async () => {
    const sr = serviceRequest('sr1', { code: 'T1019', requester: ORGS.mltcp });
    const issues = await check(world(plan), [create(sr)], requestMatchesSplit);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['ServiceRequest.basedOn']);
    expect(issues[0]?.diagnostics).toContain('CarePlan/asa');
  });

  it('rejects a service the split does not list', async () => {
    const sr = serviceRequest('sr1', { code: 'S5100', requester: ORGS.mltcp, basedOn: 'CarePlan/asa' });
    const issues = await check(world(plan), [create(sr)], requestMatchesSplit);
    expect(issues[0]?.expression).toEqual(['ServiceRequest.code']);
    expect(issues[0]?.diagnostics).toContain('HCPCS S5100');
  });

  it('rejects the MLTCP plan requesting an out-of-plan service (the Health Home\'s)', async () => {
    const sr = serviceRequest('sr1', { code: 'G9001', requester: ROLES.nyRnAtMltcp, basedOn: 'CarePlan/asa' });
    const issues = await check(world(plan), [create(sr)], requestMatchesSplit);
    expect(issues[0]?.expression).toEqual(['ServiceRequest.requester']);
    expect(issues[0]?.diagnostics).toContain('the responsibility of Organization/ny-cbc-hh');
  });

  it('rejects a bare Practitioner requester, whose organization cannot be known', async () => {
    const sr = serviceRequest('sr1', { code: 'T1019', requester: PEOPLE.nyRn, basedOn: 'CarePlan/asa' });
    const issues = await check(world(plan), [create(sr)], requestMatchesSplit);
    expect(issues[0]?.details?.text).toContain('PractitionerRole');
  });

  it('does not apply when the member has no active split plan for the request period', async () => {
    const old = { ...plan, period: { start: '2025-01-01', end: '2025-12-31' } };
    const sr = serviceRequest('sr1', { code: 'S5100', requester: PEOPLE.nyRn });
    expect(await check(world(old), [create(sr)], requestMatchesSplit)).toEqual([]);
  });

  it('does not reject creating the split plan because of earlier requests', async () => {
    const earlier = serviceRequest('sr0', { code: 'S5100', requester: PEOPLE.nyRn });
    expect(await check(world(earlier), [create(plan)], requestMatchesSplit)).toEqual([]);
  });

  it('accepts a plan and its request created in one transaction', async () => {
    const sr = serviceRequest('sr1', { code: 'T1019', requester: ORGS.mltcp, basedOn: 'CarePlan/asa' });
    expect(await check(world(), [create(plan), create(sr)], requestMatchesSplit)).toEqual([]);
  });

  it('rejects an update that moves the request to a service the plan does not list', async () => {
    const sr = serviceRequest('sr1', { code: 'T1019', requester: ORGS.mltcp, basedOn: 'CarePlan/asa' });
    const moved = serviceRequest('sr1', { code: 'S5161', requester: ORGS.mltcp, basedOn: 'CarePlan/asa' });
    expect(await check(world(plan, sr), [update(moved, sr)], requestMatchesSplit)).toHaveLength(1);
  });
});

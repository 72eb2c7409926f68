import { describe, expect, it } from 'vitest';
import { splitComplete } from '../../../src/coordination/rules/split-complete.js';
import { check, create, ORGS, splitPlan, world } from './builders.js';

const parties = [ORGS.mltcp, ORGS.hh];

describe('split-complete', () => {
  it('accepts a complete MLTCP / Health Home split', async () => {
    const plan = splitPlan('asa', {
      appendix: 'A',
      parties,
      activities: [
        { service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp },
        { service: 'S5170', benefit: 'in-plan', party: ORGS.mltcp },
        { service: 'G9001', benefit: 'out-of-plan', party: ORGS.hh },
      ],
    });
    expect(await check(world(), [create(plan)], splitComplete)).toEqual([]);
  });

  it('rejects an activity missing benefit and responsibleParty', async () => {
    const plan = splitPlan('asa', { appendix: 'A', parties, activities: [{ service: 'T1019' }] });
    const issues = await check(world(), [create(plan)], splitComplete);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CarePlan.activity[0].extension[0]']);
    expect(issues[0]?.diagnostics).toContain('benefit, responsibleParty');
  });

  it('rejects an in-plan service assigned to the Health Home', async () => {
    const plan = splitPlan('asa', { appendix: 'A', parties, activities: [{ service: 'T1019', benefit: 'in-plan', party: ORGS.hh }] });
    const issues = await check(world(), [create(plan)], splitComplete);
    expect(issues[0]?.diagnostics).toContain('the plan party is Organization/ny-vns-mltc');
  });

  it('rejects an out-of-plan service assigned to the plan', async () => {
    const plan = splitPlan('asa', { appendix: 'A', parties, activities: [{ service: 'G9001', benefit: 'out-of-plan', party: ORGS.mltcp }] });
    expect(await check(world(), [create(plan)], splitComplete)).toHaveLength(1);
  });

  it('rejects a service listed twice, pointing at the second', async () => {
    const plan = splitPlan('asa', {
      appendix: 'A',
      parties,
      activities: [
        { service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp },
        { service: 'T1019', benefit: 'out-of-plan', party: ORGS.hh },
      ],
    });
    const issues = await check(world(), [create(plan)], splitComplete);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CarePlan.activity[1].extension[0]']);
    expect(issues[0]?.diagnostics).toContain('activity[0] already lists HCPCS T1019');
  });

  it('rejects an activity with no service-split extension at all', async () => {
    const plan = splitPlan('asa', { appendix: 'A', parties, activities: [{ service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp }] });
    plan.activity?.push({ detail: { status: 'not-started' } });
    const issues = await check(world(), [create(plan)], splitComplete);
    expect(issues[0]?.expression).toEqual(['CarePlan.activity[1]']);
  });
});

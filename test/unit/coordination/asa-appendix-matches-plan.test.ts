import { describe, expect, it } from 'vitest';
import { asaAppendixMatchesPlan } from '../../../src/coordination/rules/asa-appendix-matches-plan.js';
import { check, create, ORGS, splitPlan, world } from './builders.js';

const activities = [{ service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp }];

describe('asa-appendix-matches-plan', () => {
  it('accepts an MLTCP plan with Appendix A', async () => {
    const plan = splitPlan('asa', { appendix: 'A', parties: [ORGS.mltcp, ORGS.hh], activities });
    expect(await check(world(), [create(plan)], asaAppendixMatchesPlan)).toEqual([]);
  });

  it('accepts a MAP plan with Appendix B', async () => {
    const plan = splitPlan('asa', { appendix: 'B', parties: [ORGS.map, ORGS.hh], activities });
    expect(await check(world(), [create(plan)], asaAppendixMatchesPlan)).toEqual([]);
  });

  it('rejects an MLTCP plan saying Appendix B', async () => {
    const plan = splitPlan('asa', { appendix: 'B', parties: [ORGS.mltcp, ORGS.hh], activities });
    const issues = await check(world(), [create(plan)], asaAppendixMatchesPlan);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CarePlan.extension[0]']);
    expect(issues[0]?.diagnostics).toContain('Organization/ny-vns-mltc is an MLTCP plan');
  });

  it('rejects a MAP plan without an appendix', async () => {
    const plan = splitPlan('asa', { parties: [ORGS.map, ORGS.hh], activities });
    const issues = await check(world(), [create(plan)], asaAppendixMatchesPlan);
    expect(issues[0]?.expression).toEqual(['CarePlan.extension']);
    expect(issues[0]?.details?.text).toContain('Appendix B');
  });

  it('leaves plans that are not service-split plans alone', async () => {
    const plan = splitPlan('asa', { appendix: 'B', parties: [], activities: [] });
    plan.meta = {};
    plan.extension = [];
    expect(await check(world(), [create(plan)], asaAppendixMatchesPlan)).toEqual([]);
  });
});

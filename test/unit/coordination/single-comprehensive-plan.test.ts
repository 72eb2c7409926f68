import { describe, expect, it } from 'vitest';
import { singleComprehensivePlan } from '../../../src/coordination/rules/single-comprehensive-plan.js';
import { check, comprehensivePlan, create, update, world } from './builders.js';

describe('single-comprehensive-plan', () => {
  it('accepts the first comprehensive plan', async () => {
    expect(await check(world(), [create(comprehensivePlan('p1', { start: '2026-01-01' }))], singleComprehensivePlan)).toEqual([]);
  });

  it('rejects a second active comprehensive plan for an overlapping period', async () => {
    const p1 = comprehensivePlan('p1', { start: '2026-01-01' });
    const issues = await check(world(p1), [create(comprehensivePlan('p2', { start: '2026-03-01' }))], singleComprehensivePlan);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['CarePlan.category[0]']);
    expect(issues[0]?.diagnostics).toContain('CarePlan/p1');
  });

  it('accepts a successor plan starting the day after the old one ends (transaction)', async () => {
    const p1 = comprehensivePlan('p1', { start: '2026-01-01' });
    const ended = comprehensivePlan('p1', { start: '2026-01-01', end: '2026-06-30' });
    const p2 = comprehensivePlan('p2', { start: '2026-07-01' });
    expect(await check(world(p1), [update(ended, p1), create(p2)], singleComprehensivePlan)).toEqual([]);
  });

  it('rejects when the old plan ends on the day the new one starts', async () => {
    const p1 = comprehensivePlan('p1', { start: '2026-01-01', end: '2026-07-01' });
    expect(await check(world(p1), [create(comprehensivePlan('p2', { start: '2026-07-01' }))], singleComprehensivePlan)).toHaveLength(1);
  });

  it('ignores completed and draft plans', async () => {
    const done = comprehensivePlan('p1', { start: '2026-01-01' }, 'completed');
    const draft = comprehensivePlan('p0', { start: '2026-01-01' }, 'draft');
    expect(await check(world(done, draft), [create(comprehensivePlan('p2', { start: '2026-03-01' }))], singleComprehensivePlan)).toEqual([]);
  });

  it('counts on-hold plans as active', async () => {
    const held = comprehensivePlan('p1', { start: '2026-01-01' }, 'on-hold');
    expect(await check(world(held), [create(comprehensivePlan('p2', { start: '2026-03-01' }))], singleComprehensivePlan)).toHaveLength(1);
  });
});

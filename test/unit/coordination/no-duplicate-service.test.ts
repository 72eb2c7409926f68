import type { Period } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { noDuplicateService } from '../../../src/coordination/rules/no-duplicate-service.js';
import { CodeSystems } from '../../../src/coordination/codes.js';
import { check, create, ORGS, serviceRequest, update, world } from './builders.js';

const pca = (id: string, period: Period = { start: '2026-02-01', end: '2026-07-31' }, extra: Partial<Parameters<typeof serviceRequest>[1]> = {}) =>
  serviceRequest(id, { code: 'T1019', requester: ORGS.asap, category: 'hcbs-waiver', period, ...extra });

describe('no-duplicate-service', () => {
  it('accepts a single personal care order', async () => {
    expect(await check(world(), [create(pca('sr1'))], noDuplicateService)).toEqual([]);
  });

  it('rejects a second active personal care order overlapping the first, with code duplicate', async () => {
    const issues = await check(world(pca('sr1')), [create(pca('sr2', { start: '2026-07-01', end: '2026-12-31' }))], noDuplicateService);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      code: 'duplicate',
      expression: ['ServiceRequest.code'],
      details: { coding: [{ system: CodeSystems.rule, code: 'no-duplicate-service' }] },
    });
    expect(issues[0]?.diagnostics).toContain('ServiceRequest/sr1 already orders HCPCS T1019');
  });

  it('accepts back-to-back orders (ends 2026-07-31, next starts 2026-08-01)', async () => {
    expect(await check(world(pca('sr1')), [create(pca('sr2', { start: '2026-08-01', end: '2026-12-31' }))], noDuplicateService)).toEqual([]);
  });

  it('rejects an order starting on the day the other ends', async () => {
    expect(await check(world(pca('sr1')), [create(pca('sr2', { start: '2026-07-31', end: '2026-12-31' }))], noDuplicateService)).toHaveLength(1);
  });

  it('accepts an order that replaces the earlier one', async () => {
    expect(await check(world(pca('sr1')), [create(pca('sr2', undefined, { replaces: 'ServiceRequest/sr1' }))], noDuplicateService)).toEqual([]);
  });

  it('treats kinds of order (original-order, filler-order, ...) as orders, but not proposals or plans', async () => {
    const original = pca('sr2', undefined, { intent: 'original-order' });
    expect(await check(world(pca('sr1')), [create(original)], noDuplicateService)).toHaveLength(1);
    const proposal = pca('sr3', undefined, { intent: 'proposal' });
    expect(await check(world(pca('sr1')), [create(proposal)], noDuplicateService)).toEqual([]);
  });

  it('ignores completed, revoked and draft orders', async () => {
    const done = pca('sr1', undefined, { status: 'completed' });
    const draft = pca('sr0', undefined, { status: 'draft' });
    expect(await check(world(done, draft), [create(pca('sr2'))], noDuplicateService)).toEqual([]);
  });

  it('accepts revoking the old order and creating the new one in one transaction', async () => {
    const old = pca('sr1');
    const revoked = pca('sr1', undefined, { status: 'revoked' });
    expect(await check(world(old), [update(revoked, old), create(pca('sr2'))], noDuplicateService)).toEqual([]);
  });

  it('compares occurrenceDateTime as one instant of its precision', async () => {
    const day = serviceRequest('sr2', { code: 'T1019', requester: ORGS.asap, occurrenceDateTime: '2026-07-31' });
    const after = serviceRequest('sr3', { code: 'T1019', requester: ORGS.asap, occurrenceDateTime: '2026-08-01T09:00:00Z' });
    expect(await check(world(pca('sr1')), [create(day)], noDuplicateService)).toHaveLength(1);
    expect(await check(world(pca('sr1')), [create(after)], noDuplicateService)).toEqual([]);
  });

  it('accepts different services in the same period', async () => {
    const meals = serviceRequest('sr2', { code: 'S5170', requester: ORGS.asap });
    expect(await check(world(pca('sr1')), [create(meals)], noDuplicateService)).toEqual([]);
  });
});

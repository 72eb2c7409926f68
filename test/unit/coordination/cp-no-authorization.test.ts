import { describe, expect, it } from 'vitest';
import { cpNoAuthorization } from '../../../src/coordination/rules/cp-no-authorization.js';
import { check, create, ORGS, ROLES, serviceRequest, world } from './builders.js';

describe('cp-no-authorization', () => {
  it('accepts an LTSS CP proposal with only a start date', async () => {
    const sr = serviceRequest('sr1', { code: 'S5100', requester: ROLES.cpNavigator, intent: 'proposal', period: { start: '2026-03-01' } });
    expect(await check(world(), [create(sr)], cpNoAuthorization)).toEqual([]);
  });

  it('accepts an LTSS CP plan given as an occurrenceDateTime', async () => {
    const sr = serviceRequest('sr1', { code: 'S5100', requester: ORGS.ltssCp, intent: 'plan', occurrenceDateTime: '2026-03-01' });
    expect(await check(world(), [create(sr)], cpNoAuthorization)).toEqual([]);
  });

  it('rejects an LTSS CP order, pointing at intent', async () => {
    const sr = serviceRequest('sr1', { code: 'T1019', requester: ROLES.cpNavigator, intent: 'order', period: { start: '2026-03-01' } });
    const issues = await check(world(), [create(sr)], cpNoAuthorization);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['ServiceRequest.intent']);
    expect(issues[0]?.diagnostics).toContain('Organization/ma-bshc-cp');
  });

  it('rejects an LTSS CP proposal that sets quantity and an end date, as one issue with both expressions', async () => {
    const sr = serviceRequest('sr1', {
      code: 'T1019',
      requester: ORGS.ltssCp,
      intent: 'proposal',
      period: { start: '2026-03-01', end: '2026-08-31' },
      extra: { quantityQuantity: { value: 20, unit: 'h' } },
    });
    const issues = await check(world(), [create(sr)], cpNoAuthorization);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.expression).toEqual(['ServiceRequest.quantity', 'ServiceRequest.occurrence.ofType(Period).end']);
  });

  it('rejects an LTSS CP proposal with a repeating schedule', async () => {
    const sr = serviceRequest('sr1', { code: 'T1019', requester: ORGS.ltssCp, intent: 'proposal' });
    delete sr.occurrencePeriod;
    sr.occurrenceTiming = { repeat: { frequency: 3, period: 1, periodUnit: 'wk' } };
    expect((await check(world(), [create(sr)], cpNoAuthorization))[0]?.expression).toEqual(['ServiceRequest.occurrence.ofType(Timing)']);
  });

  it('leaves other requesters alone', async () => {
    const sr = serviceRequest('sr1', { code: 'T1019', requester: ORGS.asap, intent: 'order', extra: { quantityQuantity: { value: 20 } } });
    expect(await check(world(), [create(sr)], cpNoAuthorization)).toEqual([]);
  });
});

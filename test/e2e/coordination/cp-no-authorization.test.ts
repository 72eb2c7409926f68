// cp-no-authorization over HTTP: an LTSS Community Partner proposes or plans, never authorizes, and
// sets no quantity or duration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORGS, ROLES, serviceRequest } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectNotStored, expectRejected, forMember, member, post, put, seed, unprofiled } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

describe('cp-no-authorization over HTTP', () => {
  it('accepts an LTSS CP proposal with only a start date, and (unprofiled: the profile wants occurrencePeriod) a plan given as one date', async () => {
    const m = await member(s, 'cpa-ok');
    expectAccepted(await put(s, forMember(serviceRequest('cpa-ok-1', { code: 'S5100', requester: ROLES.cpNavigator, intent: 'proposal', period: { start: '2026-03-01' } }), m)), 201);
    expectAccepted(await put(s, unprofiled(forMember(serviceRequest('cpa-ok-2', { code: 'S5170', requester: ORGS.ltssCp, intent: 'plan', occurrenceDateTime: '2026-03-01' }), m))), 201);
  });

  it('rejects an LTSS CP order at intent, naming the CP, and stores nothing', async () => {
    const m = await member(s, 'cpa-order');
    const res = await put(s, forMember(serviceRequest('cpa-order', { code: 'T1019', requester: ROLES.cpNavigator, intent: 'order', period: { start: '2026-03-01' } }), m));
    expectRejected(res, 'cp-no-authorization', { expression: ['ServiceRequest.intent'], diagnostics: ['PractitionerRole/ma-cp-navigator-bshc', 'Organization/ma-bshc-cp'] });
    await expectNotStored(s, 'ServiceRequest', 'cpa-order');
  });

  it('rejects an LTSS CP proposal with a quantity and an end date, as one issue with both expressions', async () => {
    const m = await member(s, 'cpa-qty');
    const sr = forMember(
      serviceRequest('x', { code: 'T1019', requester: ORGS.ltssCp, intent: 'proposal', period: { start: '2026-03-01', end: '2026-08-31' }, extra: { quantityQuantity: { value: 20, unit: 'h' } } }),
      m,
    );
    expectRejected(await post(s, sr), 'cp-no-authorization', { expression: ['ServiceRequest.quantity', 'ServiceRequest.occurrence.ofType(Period).end'] });
    expect(await count(s, 'ServiceRequest', `subject=Patient/${m}`)).toBe(0);
  });
});

// no-duplicate-service over HTTP: two active orders of one service for a member cannot overlap, unless
// one replaces the other.
import type { Period } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORGS, serviceRequest } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectNotStored, expectRejected, expectVersion, forMember, member, post, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const pca = (id: string, patient: string, period: Period = { start: '2026-02-01', end: '2026-07-31' }, extra: Partial<Parameters<typeof serviceRequest>[1]> = {}) =>
  forMember(serviceRequest(id, { code: 'T1019', requester: ORGS.asap, category: 'hcbs-waiver', period, ...extra }), patient);

describe('no-duplicate-service over HTTP', () => {
  it('accepts back-to-back personal care orders, a replacing order and a proposal for the same period', async () => {
    const m = await member(s, 'nd-ok');
    expectAccepted(await put(s, pca('nd-ok-1', m)), 201);
    expectAccepted(await put(s, pca('nd-ok-2', m, { start: '2026-08-01', end: '2026-12-31' })), 201);
    expectAccepted(await put(s, pca('nd-ok-3', m, undefined, { replaces: 'ServiceRequest/nd-ok-1' })), 201);
    expectAccepted(await put(s, pca('nd-ok-4', m, undefined, { intent: 'proposal' })), 201);
  });

  it('rejects a second overlapping order with issue code duplicate, naming the existing order, and stores nothing', async () => {
    const m = await member(s, 'nd-dup');
    expectAccepted(await put(s, pca('nd-dup-1', m)), 201);
    const res = await put(s, pca('nd-dup-2', m, { start: '2026-07-31', end: '2026-12-31' }));
    expectRejected(res, 'no-duplicate-service', {
      code: 'duplicate',
      expression: ['ServiceRequest.code'],
      diagnostics: ['ServiceRequest/nd-dup-1 already orders HCPCS T1019'],
    });
    await expectNotStored(s, 'ServiceRequest', 'nd-dup-2');
    expectRejected(await post(s, pca('x', m, undefined, { intent: 'original-order' })), 'no-duplicate-service', { code: 'duplicate' });
    expect(await count(s, 'ServiceRequest', `subject=Patient/${m}`)).toBe(1);
  });

  it('rejects reactivating a revoked order over the current one, keeping the stored version', async () => {
    const m = await member(s, 'nd-react');
    expectAccepted(await put(s, pca('nd-react-old', m, undefined, { status: 'revoked' })), 201);
    expectAccepted(await put(s, pca('nd-react-new', m)), 201);
    expectRejected(await put(s, pca('nd-react-old', m)), 'no-duplicate-service', { code: 'duplicate', diagnostics: ['ServiceRequest/nd-react-new'] });
    await expectVersion(s, 'ServiceRequest', 'nd-react-old', '1');
  });

  // Contract 2026-12: codings need a system (main stored this duplicate: a code without a system matched
  // nothing). The profile refuses it; written without the profile it matches no contract code.
  it('refuses a profiled order whose code has no system, so it cannot slip past the duplicate check', async () => {
    const m = await member(s, 'nd-nosystem');
    const period = { start: '2026-02-01', end: '2026-07-31' };
    expectAccepted(await put(s, forMember(serviceRequest('nd-nosystem-1', { code: 'T1019', requester: ORGS.asap, category: 'hcbs-waiver', period }), m)), 201);
    const bare = forMember(serviceRequest('nd-nosystem-2', { code: 'T1019', requester: ORGS.asap, category: 'hcbs-waiver', period }), m);
    bare.code = { coding: [{ code: 'T1019' }] };
    const res = await put(s, bare);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.body).toContain('csr-1');
    await expectNotStored(s, 'ServiceRequest', 'nd-nosystem-2');
  });
});

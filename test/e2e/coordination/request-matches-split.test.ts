// request-matches-split over HTTP: with an active service split, a request is basedOn it, asks for one
// of its services and comes from that service's responsible party.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORGS, PEOPLE, ROLES, serviceRequest, splitPlan } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectNotStored, expectRejected, forMember, member, post, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const M = 'rms-member';
const PLAN = 'rms-asa';
beforeAll(async () => {
  await member(s, M);
  const plan = splitPlan(PLAN, {
    appendix: 'A',
    parties: [ORGS.mltcp, ORGS.hh],
    activities: [
      { service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp },
      { service: 'G9001', benefit: 'out-of-plan', party: ORGS.hh },
    ],
  });
  expectAccepted(await put(s, forMember(plan, M)), 201);
});

const sr = (id: string, opts: Parameters<typeof serviceRequest>[1]) => forMember(serviceRequest(id, opts), M);

describe('request-matches-split over HTTP', () => {
  it('accepts personal care requested by the MLTCP plan\'s care manager and care management by the Health Home, both based on the split', async () => {
    expectAccepted(await put(s, sr('rms-ok-1', { code: 'T1019', requester: ROLES.nyRnAtMltcp, basedOn: `CarePlan/${PLAN}`, category: 'state-plan-ltss' })), 201);
    expectAccepted(await put(s, sr('rms-ok-2', { code: 'G9001', requester: ORGS.hh, basedOn: `CarePlan/${PLAN}`, category: 'care-management' })), 201);
  });

  it('rejects the MLTCP plan requesting the Health Home\'s out-of-plan service, naming the split activity', async () => {
    const res = await put(s, sr('rms-wrong-party', { code: 'G9001', requester: ROLES.nyRnAtMltcp, basedOn: `CarePlan/${PLAN}`, period: { start: '2026-09-01', end: '2026-12-31' } }));
    expectRejected(res, 'request-matches-split', {
      expression: ['ServiceRequest.requester'],
      diagnostics: [`CarePlan/${PLAN} activity[1]`, 'the responsibility of Organization/ny-cbc-hh'],
    });
    await expectNotStored(s, 'ServiceRequest', 'rms-wrong-party');
  });

  it('rejects a request that is not based on the split plan', async () => {
    const before = await count(s, 'ServiceRequest', `subject=Patient/${M}`);
    const res = await post(s, sr('x', { code: 'T1019', requester: ORGS.mltcp, period: { start: '2026-09-01', end: '2026-12-31' } }));
    expectRejected(res, 'request-matches-split', { expression: ['ServiceRequest.basedOn'], diagnostics: [`CarePlan/${PLAN}`] });
    expect(await count(s, 'ServiceRequest', `subject=Patient/${M}`)).toBe(before);
  });

  it('rejects a service the split does not list, and a bare Practitioner requester', async () => {
    const res = await put(s, sr('rms-unlisted', { code: 'S5100', requester: ORGS.mltcp, basedOn: `CarePlan/${PLAN}`, period: { start: '2026-09-01', end: '2026-12-31' } }));
    expectRejected(res, 'request-matches-split', { expression: ['ServiceRequest.code'], diagnostics: ['HCPCS S5100'] });
    await expectNotStored(s, 'ServiceRequest', 'rms-unlisted');
    const bare = await put(s, sr('rms-bare', { code: 'T1019', requester: PEOPLE.nyRn, basedOn: `CarePlan/${PLAN}`, period: { start: '2026-09-01', end: '2026-12-31' } }));
    expectRejected(bare, 'request-matches-split', { expression: ['ServiceRequest.requester'] });
    await expectNotStored(s, 'ServiceRequest', 'rms-bare');
  });

  it('refuses a request whose occurrence ends before it starts with per-1, not a server fault', async () => {
    // Base validation (R4 per-1) refuses it before the rules run; the rules' handling of an empty range
    // is covered by the period unit tests.
    const res = await put(s, sr('rms-backwards', { code: 'T1019', requester: ROLES.nyRnAtMltcp, period: { start: '2026-07-03', end: '2026-07-01' } }));
    expect(res.statusCode, res.body).toBe(422);
    expect(res.body).toContain('Constraint per-1 not met');
    await expectNotStored(s, 'ServiceRequest', 'rms-backwards');
  });
});

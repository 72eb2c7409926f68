// aco-no-ltss-authorization over HTTP: an ACO/MCO does not order HCBS waiver or community LTSS services
// (except the MN MCO care coordinator for an MSHO/MSC+ member on the Elderly Waiver).
import { afterAll, beforeAll, describe, it } from 'vitest';
import { episode, ORGS, ROLES, serviceRequest } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { expectAccepted, expectNotStored, expectRejected, forMember, member, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

describe('aco-no-ltss-authorization over HTTP', () => {
  it('accepts an ACO ordering a medical service and referring (proposal) for adult day health', async () => {
    const m = await member(s, 'aco-ok');
    expectAccepted(await put(s, forMember(serviceRequest('aco-ok-1', { code: '99495', requester: ROLES.acoCm, category: 'medical' }), m)), 201);
    expectAccepted(await put(s, forMember(serviceRequest('aco-ok-2', { code: 'S5100', requester: ROLES.acoCm, category: 'community-ltss', intent: 'proposal' }), m)), 201);
  });

  it('accepts the MN MCO care coordinator ordering Elderly Waiver services for an MSHO member', async () => {
    const m = await member(s, 'aco-mn');
    expectAccepted(await put(s, forMember(episode('aco-mn-ew', 'mn-elderly-waiver', ORGS.mnMco), m)), 201);
    expectAccepted(await put(s, forMember(episode('aco-mn-msho', 'mn-msho', ORGS.mnMco), m)), 201);
    expectAccepted(await put(s, forMember(serviceRequest('aco-mn-sr', { code: 'S5170', requester: ROLES.mnRnAtUcare, category: 'hcbs-waiver' }), m)), 201);
  });

  it('rejects an ACO ordering adult day health (community LTSS), and stores nothing', async () => {
    const m = await member(s, 'aco-ltss');
    const res = await put(s, forMember(serviceRequest('aco-ltss', { code: 'S5100', requester: ROLES.acoCm, category: 'community-ltss' }), m));
    expectRejected(res, 'aco-no-ltss-authorization', { expression: ['ServiceRequest.category[0]'], diagnostics: ['Organization/ma-bmc-aco'] });
    await expectNotStored(s, 'ServiceRequest', 'aco-ltss');
  });

  it('rejects the MN MCO ordering waiver services for an Elderly Waiver member outside MSHO/MSC+', async () => {
    const m = await member(s, 'aco-ew-only');
    expectAccepted(await put(s, forMember(episode('aco-ew-only-ew', 'mn-elderly-waiver', ORGS.mnMco), m)), 201);
    const res = await put(s, forMember(serviceRequest('aco-ew-only-sr', { code: 'S5170', requester: ROLES.mnRnAtUcare, category: 'hcbs-waiver' }), m));
    expectRejected(res, 'aco-no-ltss-authorization', { expression: ['ServiceRequest.category[0]'], diagnostics: ['Organization/mn-ucare'] });
    await expectNotStored(s, 'ServiceRequest', 'aco-ew-only-sr');
  });

  // Contract 2026-12: the exception needs EW and MSHO/MSC+ enrolments covering the whole occurrence
  // (main accepted it when they overlapped one month of it).
  it('rejects the MN MCO ordering a year of Elderly Waiver services when the MSHO enrolment covers one month of it', async () => {
    const m = await member(s, 'aco-mn-month');
    expectAccepted(await put(s, forMember(episode('aco-mn-month-ew', 'mn-elderly-waiver', ORGS.mnMco), m)), 201);
    expectAccepted(await put(s, forMember(episode('aco-mn-month-msho', 'mn-msho', ORGS.mnMco, { start: '2026-01-01', end: '2026-01-31' }), m)), 201);
    const sr = forMember(serviceRequest('aco-mn-month-sr', { code: 'S5170', requester: ROLES.mnRnAtUcare, category: 'hcbs-waiver', period: { start: '2026-01-01', end: '2026-12-31' } }), m);
    expectRejected(await put(s, sr), 'aco-no-ltss-authorization', { expression: ['ServiceRequest.category[0]'], diagnostics: ['Organization/mn-ucare'] });
    await expectNotStored(s, 'ServiceRequest', 'aco-mn-month-sr');
  });
});

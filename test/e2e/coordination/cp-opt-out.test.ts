// cp-opt-out over HTTP: while a member's opt-out from an organization is in force, it cannot join the
// member's teams or request services for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Period } from '@medplum/fhirtypes';
import { careTeam, optOut, ORGS, PEOPLE, ROLES, serviceRequest } from '../../unit/coordination/builders.js';
import type { ParticipantSpec } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectRejected, expectVersion, forMember, member, post, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const aco: ParticipantSpec = { member: ROLES.acoCm, onBehalfOf: ORGS.aco, scopes: ['medical'] };
const cp = (period: Period = { start: '2026-01-01' }): ParticipantSpec => ({ member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'], period });

describe('cp-opt-out over HTTP', () => {
  it('accepts the CP on the team, then records the opt-out, then lets the team end the CP the day before it', async () => {
    const m = await member(s, 'oo-ok');
    expectAccepted(await put(s, careTeam('oo-ok', [aco, cp()], { patient: m })), 201);
    expectAccepted(await put(s, forMember(optOut('oo-ok-consent', ORGS.ltssCp, '2026-04-01'), m)), 201);
    expectAccepted(await put(s, careTeam('oo-ok', [aco, cp({ start: '2026-01-01', end: '2026-03-31' })], { patient: m })), 200);
    // Another CP is not affected.
    expectAccepted(await put(s, careTeam('oo-ok-2', [{ member: PEOPLE.maCpNavigator, onBehalfOf: ORGS.ltssCp2, scopes: ['ltss-navigation'], period: { start: '2026-05-01' } }], { patient: m })), 201);
  });

  it('rejects the opted-out CP joining the member\'s team, naming the Consent, and keeps the stored team', async () => {
    const m = await member(s, 'oo-join');
    expectAccepted(await put(s, careTeam('oo-join', [aco], { patient: m })), 201);
    expectAccepted(await put(s, forMember(optOut('oo-join-consent', ORGS.ltssCp, '2026-04-01'), m)), 201);
    const res = await put(s, careTeam('oo-join', [aco, cp({ start: '2026-05-01' })], { patient: m }));
    expectRejected(res, 'cp-opt-out', {
      expression: ['CareTeam.participant[1].member'],
      diagnostics: ['Consent/oo-join-consent opts the member out of Organization/ma-bshc-cp', 'CareTeam/oo-join participant[1]'],
    });
    await expectVersion(s, 'CareTeam', 'oo-join', '1');
  });

  it('rejects the opted-out CP requesting services, and stores nothing', async () => {
    const m = await member(s, 'oo-sr');
    expectAccepted(await put(s, forMember(optOut('oo-sr-consent', ORGS.ltssCp, '2026-04-01'), m)), 201);
    const sr = forMember(serviceRequest('x', { code: 'S5100', requester: ROLES.cpNavigator, intent: 'proposal', period: { start: '2026-05-01' } }), m);
    expectRejected(await post(s, sr), 'cp-opt-out', { expression: ['ServiceRequest.requester'], diagnostics: ['Consent/oo-sr-consent'] });
    expect(await count(s, 'ServiceRequest', `subject=Patient/${m}`)).toBe(0);
  });
});

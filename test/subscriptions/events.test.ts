// Priority 1 of issue 11: notifications are stored in the transaction of the write that causes them
// (a rollback stores none), per topic trigger and filter, numbered from 1 per Subscription; a refusal
// records coordination-refused on its own with only the rule and the holder.
import type { CapabilityStatement, OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, ORGS, ROLES, type ParticipantSpec } from '../unit/coordination/builders.js';
import { expectAccepted, expectRejected, member, put, seed, transaction } from '../e2e/coordination/support.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { putSubscription, stored } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer(undefined, { SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' });
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const planLead: ParticipantSpec = { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] };
const hhLead = (start: string, end?: string): ParticipantSpec => ({
  member: ROLES.nySwAtHh,
  onBehalfOf: ORGS.hh,
  lead: true,
  designatedBy: [ORGS.mltcp, ORGS.hh],
  scopes: ['bh-and-out-of-plan'],
  period: { start, ...(end ? { end } : {}) },
});

describe('notifications recorded with the write', () => {
  it('lead-care-manager: a lead added, then a handoff Bundle that changes two teams: one event per changed team, filtered by patient', async () => {
    const m = await member(s, 'ev-lead');
    const other = await member(s, 'ev-lead-other');
    expectAccepted(await putSubscription(s, { id: 'ev-lead-sub', topic: 'lead-care-manager', filters: [`CareTeam?patient=Patient/${m}`] }));
    expectAccepted(await putSubscription(s, { id: 'ev-lead-all', topic: 'lead-care-manager' }));
    expectAccepted(await put(s, careTeam('ev-lead-plan', [{ ...planLead, period: { start: '2026-01-01' } }], { patient: m })));
    // Not a lead change: a team without a lead for another member.
    expectAccepted(await put(s, careTeam('ev-other-team', [{ ...planLead, lead: false }], { patient: other })));
    const handoff = await transaction(s, [
      { method: 'PUT', url: 'CareTeam/ev-lead-plan', resource: careTeam('ev-lead-plan', [{ ...planLead, period: { start: '2026-01-01', end: '2026-06-30' } }], { patient: m }) },
      { method: 'PUT', url: 'CareTeam/ev-lead-hh', resource: careTeam('ev-lead-hh', [hhLead('2026-07-01')], { patient: m }) },
    ]);
    expect(handoff.statusCode, handoff.body).toBe(200);
    const events = await stored(s, 'ev-lead-sub');
    expect(events.map((e) => [e.eventNumber, e.topic, `${e.focusType}/${e.focusId}`])).toEqual([
      [1, 'lead-care-manager', 'CareTeam/ev-lead-plan'],
      [2, 'lead-care-manager', expect.stringMatching(/^CareTeam\/ev-lead-(plan|hh)$/)],
      [3, 'lead-care-manager', expect.stringMatching(/^CareTeam\/ev-lead-(plan|hh)$/)],
    ]);
    expect(new Set(events.slice(1).map((e) => e.focusId))).toEqual(new Set(['ev-lead-plan', 'ev-lead-hh']));
    expect(events[0]!.focusVersion).toBe(1);
    expect(events.map((e) => e.member)).toEqual([m, m, m]);
    // The unfiltered Subscription sees the same three (the lead-less team is no lead change).
    expect((await stored(s, 'ev-lead-all')).length).toBeGreaterThanOrEqual(3);
    expect((await stored(s, 'ev-lead-all')).some((e) => e.focusId === 'ev-other-team')).toBe(false);
  });

  it('a transaction that rolls back stores no notification and consumes no number', async () => {
    const m = await member(s, 'ev-rollback');
    expectAccepted(await putSubscription(s, { id: 'ev-rb-sub', topic: 'lead-care-manager', filters: [`CareTeam?patient=${m}`] }));
    const res = await transaction(s, [
      { method: 'PUT', url: 'CareTeam/ev-rb-1', resource: careTeam('ev-rb-1', [planLead], { patient: m }) },
      { method: 'PUT', url: 'Patient/ev-rb-bad', resource: { resourceType: 'Patient', id: 'ev-rb-bad', birthDate: 'not-a-date' } },
    ]);
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(await stored(s, 'ev-rb-sub')).toEqual([]);
    expectAccepted(await put(s, careTeam('ev-rb-2', [planLead], { patient: m })));
    expect((await stored(s, 'ev-rb-sub')).map((e) => e.eventNumber)).toEqual([1]);
  });

  it('coordination-refused: recorded after the refusal, with the rule and the existing holder only', async () => {
    const m = await member(s, 'ev-refused');
    expectAccepted(await putSubscription(s, { id: 'ev-ref-sub', topic: 'coordination-refused', filters: [`OperationOutcome?patient=Patient/${m}`] }));
    expectAccepted(await putSubscription(s, { id: 'ev-ref-org', topic: 'coordination-refused', filters: [`OperationOutcome?organization=Organization/${ORGS.mltcp.id!}`] }));
    expectAccepted(await putSubscription(s, { id: 'ev-ref-none', topic: 'coordination-refused', filters: ['OperationOutcome?organization=Organization/nobody'] }));
    expectAccepted(await put(s, careTeam('ev-ref-plan', [planLead], { patient: m })));
    expectRejected(await put(s, careTeam('ev-ref-hh', [hhLead('2026-03-01')], { patient: m })), 'single-lead');
    const [event] = await stored(s, 'ev-ref-sub');
    expect(event?.topic).toBe('coordination-refused');
    expect(event?.focusId).toBeUndefined();
    const detail = JSON.parse(event!.detail!) as OperationOutcome;
    expect(detail.issue[0]?.details?.coding?.[0]?.code).toBe('single-lead');
    expect(detail.issue[0]?.expression).toEqual(['CareTeam/ev-ref-plan']);
    expect(event!.detail).not.toContain('ev-ref-hh');
    expect((await stored(s, 'ev-ref-org')).length).toBe(1);
    expect(await stored(s, 'ev-ref-none')).toEqual([]);
  });

  it('classic criteria: matched by the search engine against the written version', async () => {
    const m = await member(s, 'ev-classic');
    expectAccepted(await putSubscription(s, { id: 'ev-classic-sub', criteria: `CareTeam?subject=Patient/${m}&status=active` }));
    expectAccepted(await put(s, careTeam('ev-classic-1', [planLead], { patient: m })));
    expectAccepted(await put(s, { ...careTeam('ev-classic-2', [{ ...planLead, lead: false }], { patient: m }), status: 'proposed' }));
    expect((await stored(s, 'ev-classic-sub')).map((e) => `${e.eventNumber} ${e.focusId}`)).toEqual(['1 ev-classic-1']);
  });

  it('the secret is accepted on write and never returned: read, search, history', async () => {
    expectAccepted(await putSubscription(s, { id: 'ev-secret', topic: 'consent' }));
    for (const url of ['/fhir/Subscription/ev-secret', '/fhir/Subscription?_id=ev-secret', '/fhir/Subscription/ev-secret/_history', '/fhir/_history']) {
      const res = await s.request({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain('whsec_');
      expect(res.body).not.toContain('subscription-secret');
    }
  });

  it('the CapabilityStatement advertises the six topics and the Subscription operations', async () => {
    const cs = JSON.parse((await s.request({ method: 'GET', url: '/fhir/metadata' })).body) as CapabilityStatement;
    const sub = cs.rest?.[0]?.resource?.find((r) => r.type === 'Subscription');
    expect(sub?.extension?.map((e) => e.valueCanonical)).toEqual(
      ['lead-care-manager', 'care-plan', 'service-request', 'consent', 'enrolment', 'coordination-refused'].map((t) => `http://concord.test/fhir/SubscriptionTopic/${t}`),
    );
    expect(sub?.extension?.[0]?.url).toBe('http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical');
    expect(sub?.operation?.map((o) => o.name)).toEqual(expect.arrayContaining(['status', 'events', 'get-ws-binding-token']));
  });

  it('refuses bad configuration with 422 and stores nothing', async () => {
    const cases = [
      { id: 'bad-topic', topic: 'no-such-topic' },
      { id: 'bad-filter', topic: 'consent', filters: ['Consent?colour=red'] },
      { id: 'bad-https', topic: 'consent', endpoint: 'http://example.org/hook' },
      { id: 'bad-criteria', criteria: 'NotAType?x=1' },
      { id: 'bad-search', criteria: 'CareTeam?no-such-param=1' },
      { id: 'bad-secret', topic: 'consent', secret: 'short' },
      { id: 'bad-status', topic: 'consent', status: 'active' as const }, // the server's to set
      { id: 'bad-channel', topic: 'consent', channel: 'email' as const },
    ];
    for (const c of cases) {
      const res = await putSubscription(s, c);
      expect(res.statusCode, `${c.id}: ${res.body}`).toBe(422);
      expect((await s.request({ method: 'GET', url: `/fhir/Subscription/${c.id}` })).statusCode).toBe(404);
    }
  });
});

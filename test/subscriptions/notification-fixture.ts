// A batch for notificationBundle that exercises every branch: repeated members, a member the subscriber
// may not see, an event without member, a create (version 1), a deletion, a coordination-refused detail.
import type { Resource } from '@medplum/fhirtypes';
import type { NotificationContext } from '../../src/subscriptions/notification.js';
import type { DeliveryState, StoredNotification } from '../../src/subscriptions/store.js';

export const NOW = new Date('2026-12-03T12:00:00.000Z');

export function fixtureState(payload: DeliveryState['payload']): DeliveryState {
  return {
    id: 'sub-1',
    status: 'active',
    topic: 'enrolment',
    criteriaType: 'EpisodeOfCare',
    criteria: '',
    channelType: 'rest-hook',
    payload,
    headers: [],
    organization: 'Organization/o1',
    maxCount: 20,
    eventsCount: 17,
    generation: 1,
    deliveredThrough: 9,
    handshakeDone: true,
    attempts: 0,
  };
}

const event = (n: number, focusId: string, version: number, member?: string): StoredNotification => ({
  eventNumber: n,
  occurredAt: `2026-12-03T11:59:${String(n).padStart(2, '0')}.000Z`,
  topic: 'enrolment',
  focusType: 'EpisodeOfCare',
  focusId,
  focusVersion: version,
  ...(member ? { member } : {}),
});

export const EVENTS: StoredNotification[] = [
  event(10, 'e1', 1, 'm1'),
  event(11, 'e2', 4, 'm2'),
  event(12, 'e1', 2, 'm1'),
  event(13, 'e3', 7, 'm3'),
  event(14, 'e1', 3, 'm1'),
  event(15, 'gone', 2, 'm2'),
  event(16, 'e4', 5),
  {
    eventNumber: 17,
    occurredAt: '2026-12-03T11:59:59.000Z',
    topic: 'coordination-refused',
    member: 'm2',
    detail: JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'business-rule', diagnostics: 'Refused by coordination rule one-lead' }] }),
  },
];

/** m3 is not visible to the subscriber; `gone` is a deletion; the rest load as stored. */
export function fixtureContext(calls: string[] = []): NotificationContext {
  return {
    base: 'https://concord.example/fhir',
    loadFocus: (type, id, version) => {
      if (id === 'gone') return Promise.resolve({ deleted: true });
      const resource = { resourceType: type, id, meta: { versionId: String(version) }, status: 'active' } as Resource;
      return Promise.resolve({ resource, deleted: false });
    },
    mayDisclose: (organization, member) => {
      calls.push(`${organization}|${member ?? ''}`);
      return Promise.resolve(member !== 'm3');
    },
  };
}

/** The Bundle's JSON with its random uuids numbered in order of appearance (the rest is byte-compared). */
export function normalised(json: string): string {
  const seen = new Map<string, string>();
  return json.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (u) => {
    if (!seen.has(u)) seen.set(u, `uuid-${seen.size + 1}`);
    return seen.get(u)!;
  });
}

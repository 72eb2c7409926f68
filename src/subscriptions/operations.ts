// $status and $events (Backport IG): a Subscription's current status, and a replay of a range of its
// retained events in the notification shape. Neither ever carries the webhook secret.
import type { Bundle } from '@medplum/fhirtypes';
import { badRequest, notFound } from '../fhir/outcome.js';
import { notificationBundle, type NotificationContext } from './notification.js';
import type { DeliveryStore } from './store.js';

/** Events one $events call returns at most. */
export const MAX_EVENTS_PER_CALL = 1000;

export interface EventsQuery {
  since?: string;
  until?: string;
  content?: string;
}

export class SubscriptionOperations {
  constructor(
    private readonly store: DeliveryStore,
    private readonly context: (base: string) => NotificationContext,
  ) {}

  async status(id: string, base: string): Promise<Bundle> {
    const state = await this.store.state(id);
    if (!state) throw notFound(`Subscription/${id} is not known`);
    const status = await notificationBundle(state, 'query-status', [], this.context(base));
    return { resourceType: 'Bundle', type: 'searchset', total: 1, entry: [{ ...status.entry![0]!, search: { mode: 'match' } }] };
  }

  async events(id: string, base: string, query: EventsQuery): Promise<Bundle> {
    const state = await this.store.state(id);
    if (!state) throw notFound(`Subscription/${id} is not known`);
    const from = number(query.since, 'eventsSinceNumber') ?? 1;
    const until = number(query.until, 'eventsUntilNumber') ?? state.eventsCount;
    const to = Math.min(until, state.eventsCount, from + MAX_EVENTS_PER_CALL - 1);
    const content = query.content ?? state.payload;
    if (content !== 'empty' && content !== 'id-only' && content !== 'full-resource') throw badRequest(`content must be empty, id-only or full-resource, got '${content}'`);
    const events = to >= from ? await this.store.notifications(id, from, to) : [];
    return notificationBundle({ ...state, payload: content }, 'query-event', events, this.context(base));
  }
}

function number(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[1-9]\d{0,15}$/.test(value)) throw badRequest(`${name} must be a positive integer`);
  return Number(value);
}

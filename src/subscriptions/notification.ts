// Notification Bundles in the Subscriptions R5 Backport IG's R4 shape: a Bundle of type history whose
// first entry is the SubscriptionStatus Parameters (type, status, eventsSinceSubscriptionStart, one
// notification-event per event), followed by the focus resources when the payload is full-resource.
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { BackportUrls, topicCanonical } from './topics.js';
import type { DeliveryState, StoredNotification } from './store.js';

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

export interface NotificationContext {
  base: string;
  /** The focus version as stored (undefined: gone, e.g. purged history) or a deletion. */
  loadFocus(type: string, id: string, version: number): Promise<{ resource?: Resource; deleted: boolean } | undefined>;
  /** Whether the Subscription's organization may still see the member (checked at send time). */
  mayDisclose(organization: string | undefined, member: string | undefined): Promise<boolean>;
}

export async function notificationBundle(
  state: DeliveryState,
  type: NotificationType,
  events: readonly StoredNotification[],
  ctx: NotificationContext,
  now = new Date(),
): Promise<Bundle> {
  const statusParams: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${ctx.base}/Subscription/${state.id}` } },
    ...(state.topic ? [{ name: 'topic', valueCanonical: topicCanonical(ctx.base, state.topic) }] : []),
    { name: 'status', valueCode: state.status },
    { name: 'type', valueCode: type },
    // R4 has no integer64: the Backport IG carries the count as a string.
    { name: 'events-since-subscription-start', valueString: String(state.eventsCount) },
  ];
  if (state.lastError && (type === 'query-status' || state.status === 'error')) {
    statusParams.push({ name: 'error', valueCodeableConcept: { text: state.lastError } });
  }
  const extra: BundleEntry[] = [];
  // Checked at send time, once per member and Bundle, all members at once: a batch often carries several
  // events of one member, and each check may cost a sync with the other instances (concurrent checks
  // share one) or a query (docs/adr/0023, addendum). Every Bundle asks again: a member the subscriber
  // lost since the last POST is withheld from the next one.
  const disclosure = new Map<string | undefined, Promise<boolean>>();
  if (state.payload !== 'empty') {
    for (const e of events) {
      if (disclosure.has(e.member)) continue;
      const decided = ctx.mayDisclose(state.organization, e.member);
      // Awaited in event order below; a failure must not go unhandled while an earlier one is awaited.
      decided.catch(() => undefined);
      disclosure.set(e.member, decided);
    }
  }
  for (const e of events) {
    const part: ParametersParameter[] = [
      { name: 'event-number', valueString: String(e.eventNumber) },
      { name: 'timestamp', valueInstant: e.occurredAt },
    ];
    const disclosed = state.payload !== 'empty' && (await disclosure.get(e.member)!);
    if (disclosed && e.focusType && e.focusId) {
      const reference = `${ctx.base}/${e.focusType}/${e.focusId}${e.focusVersion ? `/_history/${e.focusVersion}` : ''}`;
      part.push({ name: 'focus', valueReference: { reference } });
      if (state.payload === 'full-resource' && e.focusVersion) {
        const focus = await ctx.loadFocus(e.focusType, e.focusId, e.focusVersion);
        if (focus) {
          extra.push({
            fullUrl: `${ctx.base}/${e.focusType}/${e.focusId}`,
            ...(focus.resource ? { resource: focus.resource } : {}),
            request: { method: focus.deleted ? 'DELETE' : e.focusVersion === 1 ? 'POST' : 'PUT', url: `${e.focusType}/${e.focusId}` },
            response: { status: focus.deleted ? '204' : e.focusVersion === 1 ? '201' : '200' },
          });
        }
      }
    }
    if (disclosed && e.detail) {
      // coordination-refused: the OperationOutcome (rule and holder) is the event's context.
      const fullUrl = `urn:uuid:${randomUUID()}`;
      part.push({ name: 'additional-context', valueReference: { reference: fullUrl } });
      extra.push({ fullUrl, resource: JSON.parse(e.detail) as Resource });
    }
    statusParams.push({ name: 'notification-event', part });
  }
  const status: Parameters = {
    resourceType: 'Parameters',
    meta: { profile: [BackportUrls.statusProfile] },
    parameter: statusParams,
  };
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [BackportUrls.notificationProfile] },
    type: 'history',
    timestamp: now.toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: status,
        request: { method: 'GET', url: `Subscription/${state.id}/$status` },
        response: { status: '200' },
      },
      ...extra,
    ],
  };
}

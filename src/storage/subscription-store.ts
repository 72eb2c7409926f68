// SQL of the subscription subsystem (migrations/0007, 0011, 0013): registrations, notifications recorded in
// the resource write's transaction, numbered per Subscription after commit, and the dispatchers' leases.
//
// Recording takes no lock: a write inserts its notifications unnumbered; the sequence default (`seq`)
// is drawn here, at the end of the write, after every lock that orders it against other writes of
// the same member or resource. Numbering (subscription_number_events, migration 0011) runs before
// anything reads numbers (claim, state): under the Subscription's row lock, which only numberers take,
// it numbers every committed unnumbered row in seq order. A number is therefore only ever given to a
// committed event, never to one that could still roll back or be followed by an earlier one: numbers
// follow commit order, without gaps (docs/adr/0011, addendum "numbering after commit").
import type { WriteTx } from '../fhir/repository.js';
import type { SubscriptionConfig, SubscriptionState, TopicFilter } from '../subscriptions/subscription-config.js';
import type { Acknowledgement, Candidate, Claimed, DeliveryState, DeliveryStore, NotificationInput, StoredNotification, SubscriptionEventStore, WebsocketStore } from '../subscriptions/store.js';
import type { Database, Queryable } from './database.js';
import { grantSubscriptionOwner } from './member-access.js';
import { queryableOf } from './resource-repository.js';

const PREPARED = { prepare: true } as const;

interface CandidateRow {
  subscription_id: string;
  topic: string | null;
  criteria_type: string;
  criteria: string;
  filters: string;
}

interface StateRow {
  subscription_id: string;
  status: SubscriptionState;
  topic: string | null;
  criteria_type: string;
  criteria: string;
  channel_type: 'rest-hook' | 'websocket';
  endpoint: string | null;
  payload: DeliveryState['payload'];
  headers: string;
  secret: string | null;
  organization: string | null;
  heartbeat_seconds: number | null;
  timeout_seconds: number | null;
  max_count: number;
  events_count: string | number;
  generation: number;
  delivered_through: string | number;
  batch_to: string | number | null;
  handshake_done: boolean;
  attempts: number;
  failing_since: Date | string | null;
  last_sent_at: Date | string | null;
  last_error: string | null;
}

interface NotificationRow {
  event_number: string | number | null;
  topic: string | null;
  focus_type: string | null;
  focus_id: string | null;
  focus_version: number | null;
  member_id: string | null;
  detail: string | null;
  occurred_at: Date | string;
}

const iso = (v: Date | string): string => (v instanceof Date ? v.toISOString() : new Date(v).toISOString());

const STATE_COLUMNS = `c.subscription_id, c.status, c.topic, c.criteria_type, c.criteria, c.channel_type, c.endpoint, c.payload,
  c.headers, c.secret, c.organization, c.heartbeat_seconds, c.timeout_seconds, c.max_count, c.events_count, c.generation,
  d.delivered_through, d.batch_to, d.handshake_done, d.attempts, d.failing_since, d.last_sent_at, d.last_error`;

function toNotification(r: NotificationRow): StoredNotification {
  return {
    eventNumber: Number(r.event_number),
    ...(r.topic ? { topic: r.topic } : {}),
    ...(r.focus_type ? { focusType: r.focus_type } : {}),
    ...(r.focus_id ? { focusId: r.focus_id } : {}),
    ...(r.focus_version !== null ? { focusVersion: r.focus_version } : {}),
    ...(r.member_id ? { member: r.member_id } : {}),
    ...(r.detail ? { detail: r.detail } : {}),
    occurredAt: iso(r.occurred_at),
  };
}

function toState(r: StateRow): DeliveryState {
  return {
    id: r.subscription_id,
    status: r.status,
    ...(r.topic ? { topic: r.topic } : {}),
    criteriaType: r.criteria_type,
    criteria: r.criteria,
    channelType: r.channel_type,
    ...(r.endpoint ? { endpoint: r.endpoint } : {}),
    payload: r.payload,
    headers: JSON.parse(r.headers) as string[],
    ...(r.secret ? { secret: r.secret } : {}),
    ...(r.organization ? { organization: r.organization } : {}),
    ...(r.heartbeat_seconds !== null ? { heartbeatSeconds: r.heartbeat_seconds } : {}),
    ...(r.timeout_seconds !== null ? { timeoutSeconds: r.timeout_seconds } : {}),
    maxCount: r.max_count,
    eventsCount: Number(r.events_count),
    generation: r.generation,
    deliveredThrough: Number(r.delivered_through),
    ...(r.batch_to !== null ? { batchTo: Number(r.batch_to) } : {}),
    handshakeDone: r.handshake_done,
    attempts: r.attempts,
    ...(r.failing_since ? { failingSince: iso(r.failing_since) } : {}),
    ...(r.last_sent_at ? { lastSentAt: iso(r.last_sent_at) } : {}),
    ...(r.last_error ? { lastError: r.last_error } : {}),
  };
}

async function selectCandidates(q: Queryable, topics: readonly string[], classicTypes: readonly string[]): Promise<Candidate[]> {
  if (topics.length === 0 && classicTypes.length === 0) return [];
  const res = await q.query<CandidateRow>(
    `SELECT subscription_id, topic, criteria_type, criteria, filters FROM subscription_channel
      WHERE status <> 'off' AND (topic = ANY($1::text[]) OR (topic IS NULL AND criteria_type = ANY($2::text[])))
      ORDER BY subscription_id`,
    [topics, classicTypes],
    PREPARED,
  );
  return res.rows.map((r) => ({
    id: r.subscription_id,
    ...(r.topic ? { topic: r.topic } : {}),
    criteriaType: r.criteria_type,
    criteria: r.criteria,
    filters: JSON.parse(r.filters) as TopicFilter[],
  }));
}

async function appendIn(q: Queryable, notifications: readonly NotificationInput[], channel: string | undefined): Promise<void> {
  if (notifications.length === 0) return;
  const cols: unknown[][] = [[], [], [], [], [], [], []];
  for (const n of notifications) {
    [n.subscriptionId, n.topic ?? null, n.focusType ?? null, n.focusId ?? null, n.focusVersion ?? null, n.member ?? null, n.detail ?? null].forEach((v, i) => cols[i]!.push(v));
  }
  // Unnumbered; seq follows the array order, so one write's events keep their order. FOR KEY SHARE
  // (what the foreign key takes anyway; numberers' FOR NO KEY UPDATE does not conflict with it): a
  // Subscription deleted meanwhile is waited for and skipped, not a foreign-key error. The locks are
  // taken in id order (the ORDER BY under the lock), not in event order, so two transactions never take
  // them in opposite orders; the insert then keeps the event order.
  await q.query(
    `WITH s AS MATERIALIZED (
       SELECT subscription_id FROM subscription_channel WHERE subscription_id = ANY($1::text[])
        ORDER BY subscription_id FOR KEY SHARE)
     INSERT INTO subscription_notification (subscription_id, topic, focus_type, focus_id, focus_version, member_id, detail)
     SELECT c.id, c.topic, c.focus_type, c.focus_id, c.focus_version, c.member_id, c.detail
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
            WITH ORDINALITY AS c(id, topic, focus_type, focus_id, focus_version, member_id, detail, ord)
       JOIN s ON s.subscription_id = c.id
      ORDER BY c.ord`,
    cols,
    PREPARED,
  );
  // Heard by every instance's dispatcher at commit, and only if the write commits.
  if (channel) await q.query('SELECT pg_notify($1, $2)', [channel, ''], PREPARED);
}

/** Numbers what committed since the last numbering; the Subscription's events_count (undefined: gone). */
async function numberEvents(q: Queryable, id: string): Promise<number | undefined> {
  const res = await q.query<{ count: string | number | null }>('SELECT subscription_number_events($1) AS count', [id], PREPARED);
  const count = res.rows[0]?.count;
  return count === null || count === undefined ? undefined : Number(count);
}

export class SubscriptionStore implements SubscriptionEventStore, DeliveryStore, WebsocketStore {
  private readonly channel: string | undefined;

  constructor(private readonly db: Database) {
    this.channel = db.kind === 'postgres' ? `concord_subscriptions_${db.namespace}` : undefined;
  }

  candidates(tx: WriteTx, topics: readonly string[], classicTypes: readonly string[]): Promise<Candidate[]> {
    return selectCandidates(queryableOf(tx), topics, classicTypes);
  }

  async register(tx: WriteTx, c: SubscriptionConfig, organization: string | undefined, reset: boolean): Promise<void> {
    const q = queryableOf(tx);
    await q.query(
      `INSERT INTO subscription_channel (subscription_id, status, topic, criteria_type, criteria, filters, channel_type, endpoint,
         payload, headers, secret, organization, heartbeat_seconds, timeout_seconds, max_count)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT (subscription_id) DO UPDATE SET status = EXCLUDED.status, topic = EXCLUDED.topic,
         criteria_type = EXCLUDED.criteria_type, criteria = EXCLUDED.criteria, filters = EXCLUDED.filters,
         channel_type = EXCLUDED.channel_type, endpoint = EXCLUDED.endpoint, payload = EXCLUDED.payload,
         headers = EXCLUDED.headers, secret = COALESCE(EXCLUDED.secret, subscription_channel.secret),
         heartbeat_seconds = EXCLUDED.heartbeat_seconds, timeout_seconds = EXCLUDED.timeout_seconds,
         max_count = EXCLUDED.max_count, generation = subscription_channel.generation + 1`,
      [
        c.id, c.status, c.topic ?? null, c.criteriaType, c.criteria, JSON.stringify(c.filters), c.channelType, c.endpoint ?? null,
        c.payload, JSON.stringify(c.headers), c.secret ?? null, organization ?? null, c.heartbeatSeconds ?? null, c.timeoutSeconds ?? null, c.maxCount,
      ],
    );
    await q.query('INSERT INTO subscription_delivery (subscription_id) VALUES ($1) ON CONFLICT (subscription_id) DO NOTHING', [c.id]);
    // Only the owner's clients (and administrative ones) see the Subscription (docs/adr/0008).
    if (organization) await grantSubscriptionOwner(q, c.id, organization);
    if (reset) {
      // The in-flight batch (batch_to) is kept: a redelivery must carry the same numbers and webhook id.
      await q.query(
        `UPDATE subscription_delivery SET handshake_done = false, attempts = 0, failing_since = NULL, last_error = NULL,
           next_attempt_at = now() WHERE subscription_id = $1`,
        [c.id],
      );
    }
    if (this.channel) await q.query('SELECT pg_notify($1, $2)', [this.channel, '']);
  }

  async setStatus(tx: WriteTx, id: string, status: SubscriptionState): Promise<void> {
    await queryableOf(tx).query('UPDATE subscription_channel SET status = $2 WHERE subscription_id = $1', [id, status]);
  }

  async unregister(tx: WriteTx, id: string): Promise<void> {
    await queryableOf(tx).query('DELETE FROM subscription_channel WHERE subscription_id = $1', [id]);
  }

  append(tx: WriteTx, notifications: readonly NotificationInput[]): Promise<void> {
    return appendIn(queryableOf(tx), notifications, this.channel);
  }

  async appendAlone(build: (candidates: Candidate[]) => NotificationInput[], topics: readonly string[]): Promise<void> {
    await this.db.transaction(async (q) => {
      const notifications = build(await selectCandidates(q, topics, []));
      await appendIn(q, notifications, this.channel);
    });
  }

  // ---- dispatchers -------------------------------------------------------------------------------

  // The claim (subscription_deliver, migrations/0013) takes the channel row with the delivery row, never
  // waiting for either: a writer of the Subscription (DELETE, whose cascade then deletes the delivery row;
  // a re-request, which upserts the channel and then resets the delivery) locks the channel row first, so
  // a claim that held the delivery row and then waited for the channel row could deadlock with it. A
  // Subscription being written is skipped until the next claim; FOR NO KEY UPDATE is the numbering
  // function's own lock (it then waits for nothing) and does not conflict with writers' FOR KEY SHARE
  // (appendIn). One statement acknowledges the previous batch, leases, numbers and reads the next batch.
  async claim(owner: string, leaseMs: number, ack?: Acknowledgement): Promise<Claimed | undefined> {
    const res = await this.db.query<StateRow & NotificationRow & { event_topic: string | null }>(
      'SELECT * FROM subscription_deliver($1, $2, $3, $4, $5)',
      [owner, leaseMs, ack?.id ?? null, ack?.deliveredThrough ?? null, Math.round(ack?.holdMs ?? 0)],
      PREPARED,
    );
    const first = res.rows[0];
    if (!first) return undefined;
    const batch: StoredNotification[] = [];
    for (const r of res.rows) if (r.event_number !== null) batch.push(toNotification({ ...r, topic: r.event_topic }));
    return { ...toState(first), batch };
  }

  async notifications(id: string, from: number, to: number): Promise<StoredNotification[]> {
    const res = await this.db.query<NotificationRow>(
      `SELECT event_number, topic, focus_type, focus_id, focus_version, member_id, detail, occurred_at
         FROM subscription_notification WHERE subscription_id = $1 AND event_number BETWEEN $2 AND $3 ORDER BY event_number`,
      [id, from, to],
      PREPARED,
    );
    return res.rows.map(toNotification);
  }

  async succeeded(id: string, owner: string, u: { deliveredThrough: number; handshakeDone: boolean }): Promise<void> {
    await this.db.query(
      `UPDATE subscription_delivery SET delivered_through = GREATEST(delivered_through, $3), handshake_done = handshake_done OR $4,
         batch_to = NULL, attempts = 0, failing_since = NULL, last_error = NULL, last_sent_at = now(), next_attempt_at = now(),
         lease_owner = NULL, lease_until = NULL
       WHERE subscription_id = $1 AND lease_owner = $2`,
      [id, owner, u.deliveredThrough, u.handshakeDone],
      PREPARED,
    );
  }

  async failed(id: string, owner: string, u: { batchTo?: number; delayMs: number; error: string }): Promise<void> {
    await this.db.query(
      `UPDATE subscription_delivery SET batch_to = COALESCE($3, batch_to), attempts = attempts + 1,
         failing_since = COALESCE(failing_since, now()), last_error = $5,
         next_attempt_at = now() + $4::int * interval '1 millisecond', lease_owner = NULL, lease_until = NULL
       WHERE subscription_id = $1 AND lease_owner = $2`,
      [id, owner, u.batchTo ?? null, Math.round(u.delayMs), u.error],
      PREPARED,
    );
  }

  async release(id: string, owner: string, delayMs = 0): Promise<void> {
    await this.db.query(
      `UPDATE subscription_delivery SET lease_owner = NULL, lease_until = NULL, next_attempt_at = now() + $3::int * interval '1 millisecond'
        WHERE subscription_id = $1 AND lease_owner = $2`,
      [id, owner, Math.round(delayMs)],
    );
  }

  async state(id: string): Promise<DeliveryState | undefined> {
    // Numbered first: $status, $events and the websocket hub see every committed event.
    await numberEvents(this.db, id);
    const res = await this.db.query<StateRow>(
      `SELECT ${STATE_COLUMNS} FROM subscription_channel c JOIN subscription_delivery d USING (subscription_id) WHERE c.subscription_id = $1`,
      [id],
    );
    const row = res.rows[0];
    return row ? toState(row) : undefined;
  }

  async purge(olderThan: Date): Promise<number> {
    // Only what the receiver acknowledged: an undelivered event is never dropped, however old.
    const res = await this.db.query(
      `DELETE FROM subscription_notification n USING subscription_delivery d
        WHERE n.subscription_id = d.subscription_id AND n.occurred_at < $1 AND n.event_number <= d.delivered_through`,
      [olderThan.toISOString()],
    );
    return res.rowCount;
  }

  // ---- websocket channel ---------------------------------------------------------------------------

  async saveBindingToken(subscriptionId: string, tokenHash: string, expiresAt: Date): Promise<void> {
    // Expired tokens are useless; dropping them here keeps the table at the live ones.
    await this.db.query('DELETE FROM subscription_ws_token WHERE expires_at < now()', []);
    await this.db.query('INSERT INTO subscription_ws_token (token_hash, subscription_id, expires_at) VALUES ($1, $2, $3)', [
      tokenHash,
      subscriptionId,
      expiresAt.toISOString(),
    ]);
  }

  async redeemBindingToken(tokenHash: string): Promise<string | undefined> {
    // DELETE ... RETURNING: of two concurrent binds with one token (on any instances) only one wins.
    const res = await this.db.query<{ subscription_id: string; live: boolean }>(
      'DELETE FROM subscription_ws_token WHERE token_hash = $1 RETURNING subscription_id, expires_at >= now() AS live',
      [tokenHash],
    );
    const row = res.rows[0];
    return row?.live ? row.subscription_id : undefined;
  }

  async websocketSent(id: string, through: number): Promise<void> {
    await this.db.query(
      'UPDATE subscription_delivery SET delivered_through = GREATEST(delivered_through, $2), last_sent_at = now() WHERE subscription_id = $1',
      [id, through],
      PREPARED,
    );
  }

  async onNotified(onWake: () => void): Promise<() => Promise<void>> {
    if (!this.channel || !this.db.listen) return () => Promise.resolve();
    // A lost connection only delays delivery to the next poll (SUBSCRIPTION_POLL_MS).
    const handle = await this.db.listen(this.channel, onWake, () => undefined);
    return () => handle.stop();
  }
}

/**
 * Every registered Subscription that is not off, in id order (the order selectCandidates gives), read in
 * the write's transaction: the per-instance candidate list (src/subscriptions/candidate-cache.ts).
 */
export async function loadRegisteredCandidates(tx: WriteTx): Promise<Candidate[]> {
  const res = await queryableOf(tx).query<CandidateRow>(
    `SELECT subscription_id, topic, criteria_type, criteria, filters FROM subscription_channel WHERE status <> 'off' ORDER BY subscription_id`,
    [],
    PREPARED,
  );
  return res.rows.map((r) => ({
    id: r.subscription_id,
    ...(r.topic ? { topic: r.topic } : {}),
    criteriaType: r.criteria_type,
    criteria: r.criteria,
    filters: JSON.parse(r.filters) as TopicFilter[],
  }));
}

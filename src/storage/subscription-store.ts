// SQL of the subscription subsystem (migrations/0007, 0013, 0014, 0016, 0018, 0020, 0021): registrations, events recorded in the
// resource write's transaction, positioned and numbered after commit, and the dispatchers' leases.
//
// Recording takes no lock: a write inserts one row per distinct event, naming the Subscriptions it
// matched; its `seq` is drawn here, at the end of the write, after every lock that orders it against
// other writes of the same member or resource. Positioning (subscription_position_events) gives every
// committed unpositioned row the next global position in seq order, one positioner at a time; a
// Subscription's numbering (subscription_number_events) then numbers the positioned events naming it
// after its cursor, recording each step's positions. Both run before anything reads numbers (claim,
// state): a number is only ever given to a committed event, in commit order, without gaps, and always
// maps to the same event afterwards (docs/adr/0021).
import type { WriteTx } from '../fhir/repository.js';
import type { SubscriptionConfig, SubscriptionState, TopicFilter } from '../subscriptions/subscription-config.js';
import type { Acknowledgement, Candidate, LeasedAcknowledgement, Claimed, DeliveryState, DeliveryStore, NotificationInput, StoredNotification, SubscriptionEventStore, WebsocketStore } from '../subscriptions/store.js';
import { subscriptionIdsOf } from '../subscriptions/store.js';
import { ChangeListener } from './change-listener.js';
import type { Database, Queryable } from './database.js';
import { grantSubscriptionOwner } from './member-access.js';
import { queryableOf, sent } from './resource-repository.js';

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

/** An event's stored fields as a notification carries them: absent, not null, where the row has none. */
function eventFields(
  topic: string | null,
  focusType: string | null,
  focusId: string | null,
  focusVersion: number | null,
  member: string | null,
  detail: string | null,
): Omit<StoredNotification, 'eventNumber' | 'occurredAt'> {
  return {
    ...(topic ? { topic } : {}),
    ...(focusType ? { focusType } : {}),
    ...(focusId ? { focusId } : {}),
    ...(focusVersion !== null ? { focusVersion } : {}),
    ...(member ? { member } : {}),
    ...(detail ? { detail } : {}),
  };
}

function toNotification(r: NotificationRow): StoredNotification {
  return { eventNumber: Number(r.event_number), ...eventFields(r.topic, r.focus_type, r.focus_id, r.focus_version, r.member_id, r.detail), occurredAt: iso(r.occurred_at) };
}

/** One event of subscription_deliver's batch: [number, topic, focus type, focus id, version, member, detail, occurred at]. */
type EventTuple = [number, string | null, string | null, string | null, number | null, string | null, string | null, string];

function fromTuple(t: EventTuple): StoredNotification {
  return toNotification({ event_number: t[0], topic: t[1], focus_type: t[2], focus_id: t[3], focus_version: t[4], member_id: t[5], detail: t[6], occurred_at: t[7] });
}

/** A row of subscription_deliver / subscription_deliver_many: the state, and the batch as one JSON array. */
type DeliverRow = StateRow & { events: EventTuple[] | string | null };

function claimedOf(row: DeliverRow): Claimed {
  const tuples = typeof row.events === 'string' ? (JSON.parse(row.events) as EventTuple[]) : (row.events ?? []);
  return { ...toState(row), batch: tuples.map(fromTuple) };
}

/**
 * A row of subscription_deliver_many_shared (migrations/0021): a claimed Subscription, its state and its batch's
 * numbers and positions; one row (the first) also carries every distinct event the batches carry, once.
 */
type SharedRow = StateRow & { batch_numbers: (string | number)[] | null; batch_positions: (string | number)[] | null; events: PositionedTuple[] | string | null };

/** [position, topic, focus type, focus id, version, member, detail, occurred at (the instant, UTC)]. */
type PositionedTuple = [number, string | null, string | null, string | null, number | null, string | null, string | null, string];

/** Each claimed Subscription with its batch, the events decoded once per call and shared by the batches that carry them. */
function claimedOfShared(rows: readonly SharedRow[]): Claimed[] {
  const events = new Map<number, Omit<StoredNotification, 'eventNumber'>>();
  for (const r of rows) {
    if (r.events === null) continue;
    const tuples = typeof r.events === 'string' ? (JSON.parse(r.events) as PositionedTuple[]) : r.events;
    for (const [position, topic, focusType, focusId, focusVersion, member, detail, occurredAt] of tuples) {
      events.set(Number(position), { ...eventFields(topic, focusType, focusId, focusVersion, member, detail), occurredAt });
    }
  }
  return rows.map((r) => {
    const batch: StoredNotification[] = [];
    const numbers = r.batch_numbers ?? [];
    const positions = r.batch_positions ?? [];
    for (let i = 0; i < numbers.length; i++) {
      // A position whose event is gone (purged) is left out, as the batch read's join always left it out.
      const event = events.get(Number(positions[i]));
      if (event) batch.push({ eventNumber: Number(numbers[i]), ...event });
    }
    return { ...toState(r), batch };
  });
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

function candidateOf(r: CandidateRow): Candidate {
  return {
    id: r.subscription_id,
    ...(r.topic ? { topic: r.topic } : {}),
    criteriaType: r.criteria_type,
    criteria: r.criteria,
    filters: JSON.parse(r.filters) as TopicFilter[],
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
  return res.rows.map(candidateOf);
}

/**
 * One event row per distinct event of the write, carrying the ids of the Subscriptions it matched, in
 * the order given: a Subscription's events keep their order (a repeated event for one Subscription
 * starts a row of its own after the one it is already in).
 */
export function eventRows(notifications: readonly NotificationInput[]): { event: NotificationInput; ids: string[] }[] {
  const rows: { event: NotificationInput; ids: string[]; named: Set<string> }[] = [];
  // Per Subscription, the last row it is in. The usual write is one event for several Subscriptions:
  // one row, found by comparing fields (no key per notification).
  const lastRowOf = new Map<string, number>();
  for (const n of notifications) {
    const after = lastRowOf.get(n.subscriptionId) ?? -1;
    let at = rows.findIndex((r, i) => i > after && sameEvent(r.event, n) && !r.named.has(n.subscriptionId));
    if (at < 0) at = rows.push({ event: n, ids: [], named: new Set() }) - 1;
    rows[at]!.ids.push(n.subscriptionId);
    rows[at]!.named.add(n.subscriptionId);
    lastRowOf.set(n.subscriptionId, at);
  }
  return rows.map(({ event, ids }) => ({ event, ids }));
}

/** Two notifications of the same event: every stored field alike (the Subscription aside). */
function sameEvent(a: NotificationInput, b: NotificationInput): boolean {
  return a.topic === b.topic && a.focusType === b.focusType && a.focusId === b.focusId && a.focusVersion === b.focusVersion && a.member === b.member && a.detail === b.detail;
}

/** An event row's values after its Subscription ids, in EVENT_COLUMNS order. */
const eventValues = (n: NotificationInput): unknown[] => [n.topic ?? null, n.focusType ?? null, n.focusId ?? null, n.focusVersion ?? null, n.member ?? null, n.detail ?? null];

const EVENT_COLUMNS = 'subscription_ids, topic, focus_type, focus_id, focus_version, member_id, detail';

async function appendIn(q: Queryable, notifications: readonly NotificationInput[], channel: string | undefined): Promise<void> {
  if (notifications.length === 0) return;
  const rows = eventRows(notifications);
  // Unpositioned; seq follows the row order, so one write's events keep their order. No lock and no
  // foreign key: the id of a Subscription deleted meanwhile is ignored by the numbering, and one created
  // again with the same id only numbers events drawn after its creation (since_seq; docs/adr/0021).
  let insert: string;
  let params: unknown[];
  if (rows.length === 1) {
    // The usual write, one event: its row as values, without the arrays, their unnest and the sort.
    const { event, ids } = rows[0]!;
    insert = `INSERT INTO subscription_event (${EVENT_COLUMNS}) VALUES ($1::text[], $2, $3, $4, $5::int, $6, $7)`;
    params = [ids, ...eventValues(event)];
  } else {
    params = [[], [], [], [], [], [], []];
    for (const { event, ids } of rows) {
      // Subscription ids are FHIR ids ([A-Za-z0-9.-]): a comma cannot occur in one.
      [ids.join(','), ...eventValues(event)].forEach((v, i) => (params[i] as unknown[]).push(v));
    }
    insert = `INSERT INTO subscription_event (${EVENT_COLUMNS})
     SELECT string_to_array(c.ids, ','), c.topic, c.focus_type, c.focus_id, c.focus_version, c.member_id, c.detail
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
            WITH ORDINALITY AS c(ids, topic, focus_type, focus_id, focus_version, member_id, detail, ord)
      ORDER BY c.ord`;
  }
  // Heard by every instance's dispatcher at commit, and only if the write commits. In the insert's own
  // statement (a data-modifying WITH always runs to completion): one round trip per write, not two. The
  // payload names the Subscriptions, so a dispatcher that holds them all (in flight or in their batch
  // window) need not look (notifiedIds); too many for a payload: none named, every dispatcher looks.
  if (channel) await q.query(`WITH recorded AS (${insert}) SELECT pg_notify($8, $9)`, [...params, channel, notifyPayload(notifications)], PREPARED);
  else await q.query(insert, params, PREPARED);
}

/** NOTIFY payloads stay well below PostgreSQL's 8,000-byte limit. */
const MAX_PAYLOAD = 4000;

/** The distinct Subscription ids of a write's notifications, comma-separated; '' (any) when too long. */
export function notifyPayload(notifications: readonly NotificationInput[]): string {
  const payload = subscriptionIdsOf(notifications).join(',');
  return payload.length <= MAX_PAYLOAD ? payload : '';
}

/** The Subscriptions a NOTIFY names; undefined: any (a registration, an older instance, a long list). */
export function notifiedIds(payload: string): string[] | undefined {
  return payload ? payload.split(',') : undefined;
}

/**
 * Positions what committed, then numbers the Subscription's events up to there; its events_count
 * (undefined: gone). Two statements, two transactions: the positioning lock is never held while waiting
 * for a Subscription's row lock, which a claim may hold while it waits for the positioning lock.
 */
async function numberEvents(q: Queryable, id: string): Promise<number | undefined> {
  await q.query('SELECT subscription_position_events()', [], PREPARED);
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
         payload, headers, secret, organization, heartbeat_seconds, timeout_seconds, max_count, numbered_through, since_seq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
         (SELECT positioned_through FROM subscription_event_cursor), nextval(pg_get_serial_sequence('subscription_event', 'seq')))
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
    const q = queryableOf(tx);
    // Sent, not waited for: the write's last statements (its AuditEvent) and its COMMIT go out right
    // behind it, in one round trip instead of two. Its failure is the transaction's: the COMMIT behind a
    // failed insert ends in ROLLBACK and the transaction rejects with the insert's own error, so a write
    // never commits without its events (docs/adr/0023, addendum "the event insert pipelined").
    return sent(() => q.commitsOnlyAfter(appendIn(q, notifications, this.channel)));
  }

  async appendAlone(build: (candidates: Candidate[]) => NotificationInput[], topics: readonly string[]): Promise<void> {
    await this.db.transaction(async (q) => {
      const notifications = build(await selectCandidates(q, topics, []));
      await appendIn(q, notifications, this.channel);
    });
  }

  // ---- dispatchers -------------------------------------------------------------------------------

  // The previous delivery protocol, one Subscription per call: instances not yet upgraded still call
  // subscription_deliver, which stays beside subscription_deliver_many (docs/adr/0027); dispatchers of
  // this version call claimMany, and tests call this to play an older instance.
  // The claim (subscription_deliver, migrations/0014) takes the channel row with the delivery row, never
  // waiting for either: a writer of the Subscription (DELETE, whose cascade then deletes the delivery row;
  // a re-request, which upserts the channel and then resets the delivery) locks the channel row first, so
  // a claim that held the delivery row and then waited for the channel row could deadlock with it. A
  // Subscription being written is skipped until the next claim; FOR NO KEY UPDATE is the numbering
  // function's own lock (it then waits for nothing). One statement acknowledges the previous batch,
  // positions, leases, numbers and reads the next batch; or, asked to keep the acknowledged Subscription,
  // acknowledges, numbers and reads its next batch under the lease it holds (migrations/0016).
  async claim(owner: string, leaseMs: number, ack?: Acknowledgement): Promise<Claimed | undefined> {
    // One row: the state, and the batch as one JSON array (decoded once, not 31 columns per event).
    const res = await this.db.query<DeliverRow>(
      'SELECT * FROM subscription_deliver($1, $2, $3, $4, $5, $6)',
      [owner, leaseMs, ack?.id ?? null, ack?.deliveredThrough ?? null, Math.round(ack?.holdMs ?? 0), ack?.keep === true],
      PREPARED,
    );
    const row = res.rows[0];
    return row ? claimedOf(row) : undefined;
  }

  // subscription_deliver_many (migrations/0018, docs/adr/0027): the acknowledgements of every batch
  // delivered since the caller's last call, each fenced by the lease token it was sent under, and the
  // claim of up to `limit` Subscriptions, in one statement and commit. Same locks, in the same order, as
  // subscription_deliver. Since migrations/0020 it numbers all the claimed Subscriptions in one statement
  // and reads all their batches in another; since migrations/0021 (subscription_deliver_many_shared) each
  // event those batches carry comes once, however many of the claimed Subscriptions carry it.
  async claimMany(owner: string, leaseMs: number, acks: readonly LeasedAcknowledgement[], limit: number): Promise<Claimed[]> {
    const res = await this.db.query<SharedRow>(
      'SELECT * FROM subscription_deliver_many_shared($1, $2, $3::text[], $4::text[], $5::bigint[], $6::int[], $7)',
      [owner, leaseMs, acks.map((a) => a.id), acks.map((a) => a.owner), acks.map((a) => a.deliveredThrough), acks.map((a) => Math.round(a.holdMs ?? 0)), limit],
      PREPARED,
    );
    return claimedOfShared(res.rows);
  }

  async notifications(id: string, from: number, to: number): Promise<StoredNotification[]> {
    const res = await this.db.query<NotificationRow>('SELECT * FROM subscription_notifications($1, $2, $3)', [id, from, to], PREPARED);
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
    const cutoff = olderThan.toISOString();
    return this.db.transaction(async (q) => {
      // A Subscription's numbering steps that the receiver acknowledged entirely (an undelivered event is
      // never dropped, however old) and whose events are all older than the cutoff: their numbers are no
      // longer retained for it ($events, a socket's catch-up), as the per-Subscription rows were before.
      const steps = await q.query<{ n: string | number | null }>(
        `WITH gone AS (
           DELETE FROM subscription_numbering s USING subscription_delivery d
            WHERE s.subscription_id = d.subscription_id AND s.last_number <= d.delivered_through
              AND NOT EXISTS (SELECT 1 FROM subscription_event e WHERE e.position = ANY (s.positions) AND e.occurred_at >= $1)
           RETURNING cardinality(s.positions) AS n)
         SELECT sum(n) AS n FROM gone`,
        [cutoff],
      );
      // An event row goes once no Subscription still needs it: each Subscription it names (still there,
      // and created before it was recorded) has numbered past it and kept no step from it on.
      await q.query(
        `WITH needs AS (
           SELECT c.subscription_id, c.since_seq,
                  LEAST(c.numbered_through + 1, COALESCE((SELECT s.positions[1] FROM subscription_numbering s
                                                           WHERE s.subscription_id = c.subscription_id ORDER BY s.first_number LIMIT 1), c.numbered_through + 1)) AS from_position
             FROM subscription_channel c)
         DELETE FROM subscription_event e
          WHERE e.position IS NOT NULL AND e.occurred_at < $1
            AND NOT EXISTS (SELECT 1 FROM needs WHERE needs.subscription_id = ANY (e.subscription_ids)
                             AND e.seq > needs.since_seq AND e.position >= needs.from_position)`,
        [cutoff],
      );
      return Number(steps.rows[0]?.n ?? 0);
    });
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

  async onNotified(onWake: (subscriptionIds?: readonly string[]) => void): Promise<() => Promise<void>> {
    if (!this.channel || !this.db.listen) return () => Promise.resolve();
    // A lost connection only delays delivery to the next poll (SUBSCRIPTION_POLL_MS) until the listener
    // is back (within a second or so); then a wake for any Subscription covers what was missed meanwhile.
    let reconnect = false;
    const listener = new ChangeListener(this.db, this.channel, {
      onChange: (payload) => onWake(notifiedIds(payload)),
      onConnected: () => {
        if (reconnect) onWake();
        reconnect = true;
      },
      onLost: () => undefined,
    });
    await listener.start();
    return () => listener.close();
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
  return res.rows.map(candidateOf);
}

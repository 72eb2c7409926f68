// subscription_deliver_many numbers every Subscription it claims in one statement and reads every batch
// in another (migration 0020, docs/adr/0027 addendum "set-based"). One call here claims Subscriptions
// whose cursors, counts, steps and batches all differ, so a statement that mixed one Subscription's
// cursor, since_seq, count or step up with another's would answer or store the wrong numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Database } from '../../src/storage/database.js';
import type { Claimed } from '../../src/subscriptions/store.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { activeSubscriptionRow, recordEvents } from './support.js';

const batchOf = (c: Claimed | undefined): [number, string | undefined][] => (c?.batch ?? []).map((e) => [e.eventNumber, e.focusId]);

async function cursors(db: Database): Promise<Record<string, [number, number]>> {
  const res = await db.query<{ id: string; n: string; c: string }>(
    'SELECT subscription_id AS id, numbered_through AS n, events_count AS c FROM subscription_channel ORDER BY subscription_id',
  );
  return Object.fromEntries(res.rows.map((r) => [r.id, [Number(r.n), Number(r.c)]]));
}

async function steps(db: Database): Promise<[string, number, number, number][]> {
  const res = await db.query<{ id: string; f: string; l: string; n: number }>(
    'SELECT subscription_id AS id, first_number AS f, last_number AS l, cardinality(positions) AS n FROM subscription_numbering ORDER BY 1, 2',
  );
  return res.rows.map((r) => [r.id, Number(r.f), Number(r.l), Number(r.n)]);
}

describe.each(storageBackends())('one call numbers and reads several Subscriptions at once (%s)', (backend) => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('each claimed Subscription gets its own numbers after its own cursor, count and since_seq, and its own batch', async () => {
    // mid: 5 events numbered as one step, 2 of them delivered; its next batch starts inside that step.
    await activeSubscriptionRow(db, 'set-mid', { maxCount: 2 });
    await recordEvents(store, 'set-mid', 5);
    // failed: its batch 1..2 failed and stays in flight while more events commit.
    await activeSubscriptionRow(db, 'set-failed', { maxCount: 2 });
    await recordEvents(store, 'set-failed', 3);
    // beat: no event of its own, a heartbeat due; its cursor still has to move past the others' events.
    await activeSubscriptionRow(db, 'set-beat', { maxCount: 5 });
    await db.query("UPDATE subscription_channel SET heartbeat_seconds = 1 WHERE subscription_id = 'set-beat'");
    await db.query("UPDATE subscription_delivery SET last_sent_at = now() - interval '1 hour' WHERE subscription_id = 'set-beat'");
    // ws: a websocket Subscription to activate: claimed, never numbered by the dispatcher.
    await activeSubscriptionRow(db, 'set-ws', { maxCount: 5, channel: 'websocket' });
    await db.query("UPDATE subscription_channel SET status = 'requested' WHERE subscription_id = 'set-ws'");
    await db.query("UPDATE subscription_delivery SET handshake_done = false WHERE subscription_id = 'set-ws'");
    await recordEvents(store, 'set-ws', 2);

    const first = await store.claimMany('set-1', 60_000, [], 10);
    expect(Object.fromEntries(first.map((c) => [c.id, batchOf(c)]))).toEqual({
      'set-mid': [[1, 'set-mid-1'], [2, 'set-mid-2']],
      'set-failed': [[1, 'set-failed-1'], [2, 'set-failed-2']],
      'set-beat': [],
      'set-ws': [],
    });
    const throughFirst = Number((await db.query<{ p: string }>('SELECT positioned_through AS p FROM subscription_event_cursor')).rows[0]!.p);
    await store.failed('set-failed', 'set-1', { batchTo: 2, delayMs: 0, error: 'receiver answered 500' });
    await store.succeeded('set-ws', 'set-1', { deliveredThrough: 0, handshakeDone: true });
    await db.query("UPDATE subscription_delivery SET last_sent_at = now() WHERE subscription_id = 'set-beat'");

    // reborn: an event recorded for its id before it existed (since_seq) is never its own, though its
    // cursor starts behind that event's position.
    await store.appendAlone(() => [{ subscriptionId: 'set-reborn', topic: 'set-reborn', focusType: 'EpisodeOfCare', focusId: 'before', focusVersion: 1 }], []);
    await db.query(
      `INSERT INTO subscription_channel (subscription_id, status, topic, criteria_type, criteria, filters, channel_type, endpoint, payload, headers, max_count, numbered_through, since_seq)
       VALUES ('set-reborn', 'active', 'set-reborn', 'EpisodeOfCare', '', '[]', 'rest-hook', 'http://127.0.0.1:9/hook', 'id-only', '[]', 5, 0,
               nextval(pg_get_serial_sequence('subscription_event', 'seq')))`,
    );
    await db.query("INSERT INTO subscription_delivery (subscription_id, handshake_done) VALUES ('set-reborn', true)");
    await recordEvents(store, 'set-reborn', 2);
    await recordEvents(store, 'set-mid', 2, 6);
    await recordEvents(store, 'set-failed', 2, 4);
    await db.query("UPDATE subscription_channel SET heartbeat_seconds = NULL WHERE subscription_id = 'set-beat'");

    const second = await store.claimMany('set-2', 60_000, [{ id: 'set-mid', owner: 'set-1', deliveredThrough: 2 }], 10);
    expect(Object.fromEntries(second.map((c) => [c.id, [batchOf(c), c.eventsCount, c.batchTo ?? null]]))).toEqual({
      'set-mid': [[[3, 'set-mid-3'], [4, 'set-mid-4']], 7, null],
      'set-failed': [[[1, 'set-failed-1'], [2, 'set-failed-2']], 5, 2],
      'set-reborn': [[[1, 'set-reborn-1'], [2, 'set-reborn-2']], 2, null],
    });
    const through = Number((await db.query<{ p: string }>('SELECT positioned_through AS p FROM subscription_event_cursor')).rows[0]!.p);
    expect(await cursors(db)).toEqual({
      // Not claimed again: its cursor stays where the first call moved it, past the events before it.
      'set-beat': [throughFirst, 0],
      'set-failed': [through, 5],
      'set-mid': [through, 7],
      'set-reborn': [through, 2],
      // Numbered by its hub's state(), not by the claim.
      'set-ws': [0, 0],
    });
    expect(await steps(db)).toEqual([
      ['set-failed', 1, 3, 3],
      ['set-failed', 4, 5, 2],
      ['set-mid', 1, 5, 5],
      ['set-mid', 6, 7, 2],
      ['set-reborn', 1, 2, 2],
    ]);
    // Numbers map to the same events afterwards ($events reads the steps the claim wrote).
    expect((await store.notifications('set-mid', 4, 7)).map((n) => n.focusId)).toEqual(['set-mid-4', 'set-mid-5', 'set-mid-6', 'set-mid-7']);
    expect((await store.notifications('set-failed', 3, 5)).map((n) => n.focusId)).toEqual(['set-failed-3', 'set-failed-4', 'set-failed-5']);
  });

  it('events the claimed Subscriptions share come out in each batch under its own numbers, every field as the per-Subscription reader gives it', async () => {
    // own-first has one event of its own before the shared ones, so the same event carries another number
    // for it; two-only reads two events per batch; one call claims all three, and each batch must read
    // every field of an event row as the per-Subscription reader ($events) does.
    for (const [id, maxCount] of [['shr-own-first', 50], ['shr-two-only', 2], ['shr-plain', 50]] as const) await activeSubscriptionRow(db, id, { maxCount });
    await recordEvents(store, 'shr-own-first', 1);
    const all = ['shr-own-first', 'shr-two-only', 'shr-plain'];
    const shared = [
      { topic: 'shr', focusType: 'EpisodeOfCare', focusId: 'shr-ep', focusVersion: 7, member: 'shr-m1' },
      // A refusal's detail: quotes, a backslash, a line break and non-ASCII text must survive the rendering.
      { topic: 'shr-refused', member: 'shr-m2', detail: JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ diagnostics: 'a "quoted" \\ back\nslash, ü 漢' }] }) },
      // No focus and no member.
      { topic: 'shr-bare' },
    ];
    for (const event of shared) await store.appendAlone(() => all.map((subscriptionId) => ({ subscriptionId, ...event })), []);

    const claimed = (await store.claimMany('shr-1', 60_000, [], 20)).filter((c) => all.includes(c.id));
    expect(claimed.map((c) => c.id).sort()).toEqual([...all].sort());
    const numbers = Object.fromEntries(claimed.map((c) => [c.id, c.batch.map((e) => e.eventNumber)]));
    expect(numbers).toEqual({ 'shr-own-first': [1, 2, 3, 4], 'shr-two-only': [1, 2], 'shr-plain': [1, 2, 3] });
    for (const c of claimed) {
      expect(c.batch, c.id).toEqual(await store.notifications(c.id, 1, c.batch.length));
      const fields = c.batch.filter((e) => e.topic !== 'shr-own-first').map(({ eventNumber: _n, occurredAt: _at, ...rest }) => rest);
      expect(fields, c.id).toEqual(shared.slice(0, fields.length));
    }
  });
});

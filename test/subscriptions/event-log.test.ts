// The event log of migration 0014 (docs/adr/0021): one row per write's event naming the Subscriptions it
// matched, a global position given after commit, per-Subscription numbering steps. What it must keep:
// existing numbers and pending events across the upgrade, commit order and gapless numbers under
// concurrent out-of-order commits (the same relative order for every Subscription), the same events for
// the same numbers after retention purged other Subscriptions' events, and idle Subscriptions' cursors
// moving on without being claimed.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventRows, SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Database } from '../../src/storage/database.js';
import { loadMigrations, migrate } from '../../src/storage/migrate.js';
import { openPglite } from '../../src/storage/pglite.js';
import { openPostgres } from '../../src/storage/postgres.js';
import type { NotificationInput } from '../../src/subscriptions/store.js';
import { type Backend, openTestDatabase, postgresUrl, storageBackends } from '../support/db.js';
import { activeSubscriptionRow } from './support.js';

/** A fresh database with the migrations before `upTo` only (a fresh schema on PostgreSQL). */
async function databaseBefore(backend: Backend, upTo: string): Promise<Database> {
  const all = (await loadMigrations()).filter((m) => m.name < upTo);
  if (backend === 'pglite') {
    const db = await openPglite();
    await migrate(db, all);
    return db;
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const inner = await openPostgres({ connectionString: postgresUrl()!, schema, max: 12, acquireTimeoutMs: 60_000 });
  const db: Database = {
    ...inner,
    async close() {
      await inner.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await inner.close();
    },
  };
  await migrate(db, all);
  return db;
}

const activeSubscription = (db: Database, id: string, maxCount: number, channel: 'rest-hook' | 'websocket' = 'rest-hook'): Promise<void> =>
  activeSubscriptionRow(db, id, { maxCount, topic: 't', channel });

const event = (focusId: string) => ({ topic: 't', focusType: 'EpisodeOfCare', focusId, focusVersion: 1 });
/** Commits one event for these Subscriptions, as a write's transaction does. */
const record = (store: SubscriptionStore, ids: string[], focusId: string): Promise<void> =>
  store.appendAlone(() => ids.map((subscriptionId) => ({ subscriptionId, ...event(focusId) })), ['t']);
const numbered = async (store: SubscriptionStore, id: string, from = 1, to = 1_000_000): Promise<string[]> =>
  (await store.notifications(id, from, to)).map((e) => `${e.eventNumber} ${e.focusId}`);

describe('event rows of one write', () => {
  it('one row per distinct event with the Subscriptions it matched; each Subscription keeps its order, a repeat gets a row of its own', () => {
    const n = (subscriptionId: string, focusId: string): NotificationInput => ({ subscriptionId, ...event(focusId) });
    const rows = eventRows([n('a', 'x'), n('a', 'y'), n('b', 'x'), n('b', 'y'), n('a', 'x'), n('c', 'y')]);
    expect(rows.map((r) => `${r.event.focusId}:${r.ids.join(',')}`)).toEqual(['x:a,b', 'y:a,b,c', 'x:a']);
  });

  it('one event for several Subscriptions (the usual write) is one row naming them in order; one named twice, or another field, is not', () => {
    const n = (subscriptionId: string, focusId: string, more: Partial<NotificationInput> = {}): NotificationInput => ({ subscriptionId, ...event(focusId), ...more });
    const show = (rows: ReturnType<typeof eventRows>): string[] => rows.map((r) => `${r.event.focusId}/${r.event.member ?? '-'}:${r.ids.join(',')}`);
    expect(show(eventRows([n('c', 'x'), n('a', 'x'), n('b', 'x')]))).toEqual(['x/-:c,a,b']);
    expect(show(eventRows([n('a', 'x'), n('b', 'x'), n('a', 'x')]))).toEqual(['x/-:a,b', 'x/-:a']);
    expect(show(eventRows([n('a', 'x'), n('b', 'x', { member: 'm' })]))).toEqual(['x/-:a', 'x/m:b']);
    expect(show(eventRows([n('a', 'x')]))).toEqual(['x/-:a']);
  });
});

describe.each(storageBackends())('subscription event log (%s)', (backend) => {
  it('migration 0014 keeps numbered events (with a purged gap), the in-flight batch, pending events and $events; numbering continues', async () => {
    const db = await databaseBefore(backend, '0014');
    try {
      // As migrations 0007-0013 stored them: one row per event and Subscription, numbered or not yet.
      await db.exec(`
        INSERT INTO subscription_channel (subscription_id, status, topic, criteria_type, criteria, filters, channel_type, endpoint, payload, headers, max_count, events_count)
        VALUES ('cv-a', 'active', 't', 'EpisodeOfCare', '', '[]', 'rest-hook', 'http://127.0.0.1:9/hook', 'id-only', '[]', 10, 5),
               ('cv-b', 'active', 't', 'EpisodeOfCare', '', '[]', 'websocket', NULL, 'id-only', '[]', 10, 2),
               ('cv-c', 'active', 't', 'EpisodeOfCare', '', '[]', 'rest-hook', 'http://127.0.0.1:9/hook', 'id-only', '[]', 10, 0);
        INSERT INTO subscription_delivery (subscription_id, handshake_done, delivered_through, batch_to)
        VALUES ('cv-a', true, 3, 5), ('cv-b', true, 2, NULL), ('cv-c', true, 0, NULL);
        INSERT INTO subscription_notification (subscription_id, event_number, topic, focus_type, focus_id, focus_version)
        VALUES ('cv-a', 1, 't', 'EpisodeOfCare', 'a1', 1), ('cv-a', 3, 't', 'EpisodeOfCare', 'a3', 1),
               ('cv-b', 1, 't', 'EpisodeOfCare', 'b1', 1), ('cv-a', 4, 't', 'EpisodeOfCare', 'a4', 1),
               ('cv-b', 2, 't', 'EpisodeOfCare', 'b2', 1), ('cv-a', 5, 't', 'EpisodeOfCare', 'a5', 2);
        INSERT INTO subscription_notification (subscription_id, topic, focus_type, focus_id, focus_version)
        VALUES ('cv-a', 't', 'EpisodeOfCare', 'a-pending-1', 1), ('cv-c', 't', 'EpisodeOfCare', 'c-pending-1', 1),
               ('cv-b', 't', 'EpisodeOfCare', 'b-pending', 1), ('cv-a', 't', 'EpisodeOfCare', 'a-pending-2', 1);`);
      await migrate(db);
      const store = new SubscriptionStore(db);
      // The failed batch goes out again with the same numbers (4, 5: the same webhook id) and events.
      const claimed = await store.claim('owner', 60_000);
      expect(claimed).toMatchObject({ id: 'cv-a', eventsCount: 7, deliveredThrough: 3, batchTo: 5 });
      expect(claimed!.batch.map((e) => `${e.eventNumber} ${e.focusId}/${e.focusVersion}`)).toEqual(['4 a4/1', '5 a5/2']);
      // The pending events follow, in the order they were recorded.
      let next = await store.claim('owner', 60_000, { id: 'cv-a', deliveredThrough: 5 });
      // cv-c (pending since before the upgrade) may come first: the claim takes whatever is due longest.
      if (next?.id === 'cv-c') next = await store.claim('owner', 60_000);
      expect(next?.id).toBe('cv-a');
      expect(next!.batch.map((e) => `${e.eventNumber} ${e.focusId}`)).toEqual(['6 a-pending-1', '7 a-pending-2']);
      // $events replays what is retained, gap included.
      expect(await numbered(store, 'cv-a')).toEqual(['1 a1', '3 a3', '4 a4', '5 a5', '6 a-pending-1', '7 a-pending-2']);
      expect(await numbered(store, 'cv-a', 2, 4)).toEqual(['3 a3', '4 a4']);
      expect((await store.state('cv-b'))?.eventsCount).toBe(3);
      expect(await numbered(store, 'cv-b')).toEqual(['1 b1', '2 b2', '3 b-pending']);
      expect((await store.state('cv-c'))?.eventsCount).toBe(1);
      expect(await numbered(store, 'cv-c')).toEqual(['1 c-pending-1']);
      // Recorded after the upgrade: one row for the three, next numbers for each.
      await record(store, ['cv-a', 'cv-b', 'cv-c'], 'after');
      for (const [id, n] of [['cv-a', 8], ['cv-b', 4], ['cv-c', 2]] as const) {
        expect((await store.state(id))?.eventsCount).toBe(n);
        expect((await numbered(store, id)).at(-1)).toBe(`${n} after`);
      }
      const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM subscription_event WHERE focus_id = 'after'");
      expect(rows.rows[0]!.n).toBe(1);
    } finally {
      await db.close();
    }
  });

  describe('retention', () => {
    let db: Database;
    let store: SubscriptionStore;
    beforeAll(async () => {
      db = await openTestDatabase(backend);
      store = new SubscriptionStore(db);
    });
    afterAll(async () => {
      await db.close();
    });
    const age = () => db.query("UPDATE subscription_event SET occurred_at = now() - interval '2 days'");
    const acknowledge = (id: string, through: number) => db.query('UPDATE subscription_delivery SET delivered_through = $2 WHERE subscription_id = $1', [id, through]);
    const purge = () => store.purge(new Date(Date.now() - 86_400_000));
    const eventRowsLeft = async () => (await db.query<{ f: string }>('SELECT focus_id AS f FROM subscription_event ORDER BY seq')).rows.map((r) => r.f);

    it('purges per Subscription what it acknowledged; shared events stay for the others, which replay the same numbers', async () => {
      for (const id of ['pr-a', 'pr-b', 'pr-c']) await activeSubscription(db, id, 10);
      await record(store, ['pr-a', 'pr-b'], 'e1');
      await record(store, ['pr-a', 'pr-b'], 'e2');
      for (const id of ['pr-a', 'pr-b']) await store.state(id);
      await record(store, ['pr-a', 'pr-b', 'pr-c'], 'e3');
      for (const id of ['pr-a', 'pr-b', 'pr-c']) await store.state(id);
      await age();
      // Young events and unacknowledged ones stay.
      expect(await store.purge(new Date(Date.now() - 3 * 86_400_000))).toBe(0);
      expect(await purge()).toBe(0);
      await acknowledge('pr-a', 3);
      expect(await purge()).toBe(3);
      expect(await numbered(store, 'pr-a')).toEqual([]);
      expect((await store.state('pr-a'))?.eventsCount).toBe(3);
      expect(await numbered(store, 'pr-b')).toEqual(['1 e1', '2 e2', '3 e3']);
      expect(await numbered(store, 'pr-c')).toEqual(['1 e3']);
      expect(await eventRowsLeft()).toEqual(['e1', 'e2', 'e3']);
      // pr-b acknowledged its first step (1-2): those events are needed by nobody any more.
      await acknowledge('pr-b', 2);
      expect(await purge()).toBe(2);
      expect(await numbered(store, 'pr-b')).toEqual(['3 e3']);
      expect(await eventRowsLeft()).toEqual(['e3']);
      // Numbering continues after the purge, and replays stay right.
      await record(store, ['pr-a', 'pr-c'], 'e4');
      expect((await store.state('pr-a'))?.eventsCount).toBe(4);
      expect(await numbered(store, 'pr-a')).toEqual(['4 e4']);
      expect((await store.state('pr-c'))?.eventsCount).toBe(2);
      expect(await numbered(store, 'pr-c')).toEqual(['1 e3', '2 e4']);
      expect(await numbered(store, 'pr-b', 3, 3)).toEqual(['3 e3']);
    });

    it('an event not yet numbered for a Subscription is never purged, however old, nor one of a Subscription deleted after it was recorded', async () => {
      await activeSubscription(db, 'pn-a', 10);
      await activeSubscription(db, 'pn-b', 10);
      await record(store, ['pn-a', 'pn-b'], 'pn-1');
      await store.state('pn-a');
      await acknowledge('pn-a', 1);
      await age();
      await purge();
      // pn-b has not numbered it yet (nobody read pn-b): kept.
      expect((await store.state('pn-b'))?.eventsCount).toBe(1);
      expect(await numbered(store, 'pn-b')).toEqual(['1 pn-1']);
      // Once pn-b is gone, nobody needs it.
      await db.query("DELETE FROM subscription_channel WHERE subscription_id = 'pn-b'");
      await purge();
      expect((await db.query("SELECT 1 FROM subscription_event WHERE focus_id = 'pn-1'")).rows).toEqual([]);
    });
  });

  it('an idle claim moves the cursor of an active Subscription that matched nothing once it lags by more than 64 positions; it is never claimed for it', async () => {
    const db = await openTestDatabase(backend);
    try {
      const store = new SubscriptionStore(db);
      await activeSubscription(db, 'ic-busy', 10);
      await activeSubscription(db, 'ic-idle', 10);
      const drain = async (): Promise<string[]> => {
        const claimed: string[] = [];
        let ack: { id: string; deliveredThrough: number } | undefined;
        for (;;) {
          const c = await store.claim('owner', 60_000, ack);
          if (!c) return claimed;
          claimed.push(`${c.id} ${c.batch[0]?.eventNumber}-${c.batch.at(-1)?.eventNumber}`);
          ack = { id: c.id, deliveredThrough: c.batch.at(-1)?.eventNumber ?? c.deliveredThrough };
        }
      };
      const cursors = async (): Promise<string[]> =>
        (
          await db.query<{ id: string; through: string; positioned: string }>(
            'SELECT subscription_id AS id, numbered_through AS through, (SELECT positioned_through FROM subscription_event_cursor) AS positioned FROM subscription_channel ORDER BY 1',
          )
        ).rows.map((r) => `${r.id} ${Number(r.through)}/${Number(r.positioned)}`);
      // A short lag: the claim's look at the idle Subscription's events is short, no sweep (migration 0016).
      for (let i = 0; i < 5; i++) await record(store, ['ic-busy'], `b${i}`);
      expect(await drain()).toEqual(['ic-busy 1-5']);
      expect(await cursors()).toEqual(['ic-busy 5/5', 'ic-idle 0/5']);
      // Past 64 positions behind: the claim that finds nothing moves it.
      for (let i = 5; i < 70; i++) await record(store, ['ic-busy'], `b${i}`);
      expect(await drain()).toEqual(['ic-busy 6-15', 'ic-busy 16-25', 'ic-busy 26-35', 'ic-busy 36-45', 'ic-busy 46-55', 'ic-busy 56-65', 'ic-busy 66-70']);
      expect(await cursors()).toEqual(['ic-busy 70/70', 'ic-idle 70/70']);
    } finally {
      await db.close();
    }
  });
});

/** A transaction held open until released: recorded now, committed (or rolled back) later. */
function heldRecord(db: Database, ids: string[], focusId: string): { ready: Promise<void>; release(commit: boolean): Promise<void> } {
  let ready!: () => void;
  let finish!: (commit: boolean) => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const decided = new Promise<boolean>((r) => (finish = r));
  const done = db
    .transaction(async (q) => {
      await q.query(
        "INSERT INTO subscription_event (subscription_ids, topic, focus_type, focus_id, focus_version) VALUES ($1::text[], 't', 'EpisodeOfCare', $2, 1)",
        [ids, focusId],
      );
      ready();
      if (!(await decided)) throw new Error('rolled back on purpose');
    })
    .catch((err: unknown) => {
      if (!(err instanceof Error && err.message === 'rolled back on purpose')) throw err;
    });
  return {
    ready: readyP,
    async release(commit) {
      finish(commit);
      await done;
    },
  };
}

// Several connections at once: PostgreSQL only (PGlite is one connection).
describe.skipIf(!postgresUrl())('positions under concurrent, out-of-order commits (postgres)', () => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase('postgres', { max: 24 });
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('a lower seq committing late follows what was positioned before it, for every Subscription alike', async () => {
    await activeSubscription(db, 'late-1', 10);
    await activeSubscription(db, 'late-2', 10);
    const early = heldRecord(db, ['late-1', 'late-2'], 'recorded-first');
    await early.ready;
    await record(store, ['late-1', 'late-2'], 'committed-first');
    await store.state('late-1');
    expect(await numbered(store, 'late-1')).toEqual(['1 committed-first']);
    await early.release(true);
    // late-2 is numbered only now, with both committed: still the order late-1 saw.
    await store.state('late-2');
    await store.state('late-1');
    expect(await numbered(store, 'late-2')).toEqual(['1 committed-first', '2 recorded-first']);
    expect(await numbered(store, 'late-1')).toEqual(['1 committed-first', '2 recorded-first']);
  });

  it('200 writes committing in random order beside numberers and claimers: gapless, each once, rollbacks never, one relative order, real-time order kept', async () => {
    const subs = ['cw-1', 'cw-2', 'cw-3'];
    for (const id of subs) await activeSubscription(db, id, 7);
    const spans = new Map<string, { start: number; end: number }>();
    const rolledBack = new Set<string>();
    let writing = true;
    const writes = Array.from({ length: 200 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, Math.random() * 1500));
      const focus = `w${i}`;
      // Every write matches cw-1; others cw-2, cw-3 or both.
      const ids = ['cw-1', ...(i % 2 ? ['cw-2'] : []), ...(i % 3 ? ['cw-3'] : [])];
      const start = performance.now();
      const held = heldRecord(db, ids, focus);
      await held.ready;
      await new Promise((r) => setTimeout(r, Math.random() * 40));
      const commit = i % 17 !== 0;
      if (!commit) rolledBack.add(focus);
      await held.release(commit);
      if (commit) spans.set(focus, { start, end: performance.now() });
    });
    const readers = [
      ...subs.map(async (id) => {
        while (writing) {
          await store.state(id);
          await new Promise((r) => setTimeout(r, Math.random() * 10));
        }
      }),
      (async () => {
        let ack: { id: string; deliveredThrough: number } | undefined;
        while (writing) {
          const c = await store.claim('cw-claimer', 60_000, ack);
          ack = c ? { id: c.id, deliveredThrough: c.deliveredThrough + c.batch.length } : undefined;
          if (!c) await new Promise((r) => setTimeout(r, 5));
        }
        if (ack) await store.succeeded(ack.id, 'cw-claimer', { deliveredThrough: ack.deliveredThrough, handshakeDone: false });
      })(),
    ];
    await Promise.all(writes);
    writing = false;
    await Promise.all(readers);
    const orders = new Map<string, string[]>();
    for (const id of subs) {
      await store.state(id);
      const events = await store.notifications(id, 1, 1_000_000);
      expect(events.map((e) => e.eventNumber)).toEqual(events.map((_, k) => k + 1));
      orders.set(id, events.map((e) => e.focusId!));
    }
    const all = orders.get('cw-1')!;
    expect([...all].sort()).toEqual([...spans.keys()].sort());
    for (const f of rolledBack) expect(all).not.toContain(f);
    // Every Subscription sees its events in the one global order.
    for (const id of ['cw-2', 'cw-3']) expect(orders.get(id)).toEqual(all.filter((f) => orders.get(id)!.includes(f)));
    // A write that committed before another began is numbered before it.
    const rank = new Map(all.map((f, k) => [f, k]));
    let pairs = 0;
    for (const [a, sa] of spans) {
      for (const [b, sb] of spans) {
        if (sa.end < sb.start) {
          pairs++;
          expect(rank.get(a)!, `${a} committed before ${b} began`).toBeLessThan(rank.get(b)!);
        }
      }
    }
    expect(pairs).toBeGreaterThan(100);
  }, 120_000);
});

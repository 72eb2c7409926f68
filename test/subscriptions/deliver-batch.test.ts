// Delivery in one statement (docs/adr/0011, addendum "delivery in one statement", migration 0013): the
// claim numbers and answers the batch to send and acknowledges the lease holder's previous batch in the
// same statement; a dispatcher never acknowledges separately while it goes on claiming; after a POST that
// emptied a Subscription's backlog, the Subscription waits out the batch window, so events committed
// meanwhile share one POST, and are still delivered when nothing else wakes the dispatcher.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Database } from '../../src/storage/database.js';
import { batchWindow, type Dispatcher } from '../../src/subscriptions/dispatcher.js';
import type { Acknowledgement, DeliveryStore } from '../../src/subscriptions/store.js';
import { openTestDatabase, postgresUrl, storageBackends } from '../support/db.js';
import { activeSubscriptionRow, eventNumbers, recordEvents, testDispatcher } from './support.js';

/** Retries an assertion until it holds (or throws its last failure after timeoutMs). */
async function eventually(check: () => unknown, timeoutMs = 10_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (performance.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const activeSubscription = (db: Database, id: string, maxCount: number): Promise<void> => activeSubscriptionRow(db, id, { maxCount });

/** Commits one event per call for the Subscription (its own topic), as a write's transaction would. */
function recorder(store: SubscriptionStore, id: string): () => Promise<void> {
  let n = 0;
  return () => recordEvents(store, id, 1, ++n);
}

/** A claimMany() call as a dispatcher made it: when, what it acknowledged, its limit, whom it claimed. */
interface Call {
  at: number;
  acks: Acknowledgement[];
  limit: number;
  claimed: string[];
}

const deliveredThrough = async (db: Database, id: string): Promise<number> =>
  Number((await db.query<{ d: string }>('SELECT delivered_through AS d FROM subscription_delivery WHERE subscription_id = $1', [id])).rows[0]!.d);

describe.each(storageBackends())('delivery in one statement (%s)', (backend) => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('a claim answers the batch it numbered, and acknowledges the lease holder’s previous batch in the same call', async () => {
    await activeSubscription(db, 'db-claim', 3);
    const record = recorder(store, 'db-claim');
    for (let i = 0; i < 5; i++) await record();
    const first = await store.claim('owner-a', 60_000);
    expect(first).toMatchObject({ id: 'db-claim', eventsCount: 5, deliveredThrough: 0 });
    expect(first!.batch.map((e) => `${e.eventNumber} ${e.focusId}`)).toEqual(['1 db-claim-1', '2 db-claim-2', '3 db-claim-3']);
    // Another owner's acknowledgement changes nothing, and the lease keeps it from claiming.
    expect(await store.claim('owner-b', 60_000, { id: 'db-claim', deliveredThrough: 5 })).toBeUndefined();
    expect(await deliveredThrough(db, 'db-claim')).toBe(0);
    // The holder's acknowledgement and its next claim: one call.
    const second = await store.claim('owner-a', 60_000, { id: 'db-claim', deliveredThrough: 3 });
    expect(second).toMatchObject({ id: 'db-claim', eventsCount: 5, deliveredThrough: 3 });
    expect(second!.batch.map((e) => e.eventNumber)).toEqual([4, 5]);
    // The last acknowledgement is recorded even when the claim finds nothing else to do.
    expect(await store.claim('owner-a', 60_000, { id: 'db-claim', deliveredThrough: 5 })).toBeUndefined();
    expect(await deliveredThrough(db, 'db-claim')).toBe(5);
  });

  it('an acknowledgement from a holder whose lease expired and was taken over changes nothing', async () => {
    await activeSubscription(db, 'db-takeover', 10);
    const record = recorder(store, 'db-takeover');
    for (let i = 0; i < 3; i++) await record();
    expect((await store.claim('owner-old', 1))!.batch.map((e) => e.eventNumber)).toEqual([1, 2, 3]);
    await new Promise((r) => setTimeout(r, 20));
    // Taken over; the new holder's POST fails, so it keeps the batch to resend and counts an attempt.
    expect((await store.claim('owner-new', 60_000))!.batch.map((e) => e.eventNumber)).toEqual([1, 2, 3]);
    await store.failed('db-takeover', 'owner-new', { batchTo: 3, delayMs: 0, error: 'receiver answered 500' });
    const before = (await db.query('SELECT delivered_through, batch_to, attempts, last_error, lease_owner FROM subscription_delivery WHERE subscription_id = $1', ['db-takeover'])).rows;
    // The old holder's late acknowledgement (its claim finds the Subscription due and leases it anew).
    const claimed = await store.claim('owner-old', 60_000, { id: 'db-takeover', deliveredThrough: 3 });
    expect(claimed).toMatchObject({ id: 'db-takeover', deliveredThrough: 0, batchTo: 3, attempts: 1 });
    const after = (await db.query('SELECT delivered_through, batch_to, attempts, last_error, lease_owner FROM subscription_delivery WHERE subscription_id = $1', ['db-takeover'])).rows;
    expect(after).toEqual([{ ...before[0], lease_owner: 'owner-old' }]);
  });

  it('an acknowledgement with a hold keeps the Subscription from being claimed until the hold ends', async () => {
    await activeSubscription(db, 'db-hold', 10);
    const record = recorder(store, 'db-hold');
    await record();
    const claimed = await store.claim('owner-h', 60_000);
    expect(claimed!.batch.map((e) => e.eventNumber)).toEqual([1]);
    await record();
    expect(await store.claim('owner-h', 60_000, { id: 'db-hold', deliveredThrough: 1, holdMs: 60_000 })).toBeUndefined();
    expect(await deliveredThrough(db, 'db-hold')).toBe(1);
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() WHERE subscription_id = 'db-hold'");
    const next = await store.claim('owner-h', 60_000);
    expect(next!.batch.map((e) => e.eventNumber)).toEqual([2]);
    expect(await store.claim('owner-h', 60_000, { id: 'db-hold', deliveredThrough: 2 })).toBeUndefined();
  });

  it('a backlog of 4,000 events is numbered at once, in seq order, in linear time (no re-scan per row)', async () => {
    await activeSubscription(db, 'db-backlog', 20);
    await db.query(
      `INSERT INTO subscription_event (subscription_ids, topic, focus_id)
       SELECT ARRAY['db-backlog'], 'db-backlog', 'e' || i FROM generate_series(1, 4000) AS i ORDER BY i`,
    );
    const started = performance.now();
    expect((await store.state('db-backlog'))?.eventsCount).toBe(4000);
    // Quadratic numbering (the plan of migration 0011) took tens of seconds here; linear takes milliseconds.
    expect(performance.now() - started).toBeLessThan(3000);
    const events = await store.notifications('db-backlog', 1, 4000);
    expect(events.every((e, i) => e.eventNumber === i + 1 && e.focusId === `e${i + 1}`)).toBe(true);
  });
});

// Several connections at once: PostgreSQL only (PGlite is one connection).
describe.skipIf(!postgresUrl())('delivery in one statement, concurrent claimers (postgres)', () => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase('postgres', { max: 12 });
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('six claimers while events commit: one holder per Subscription at a time, every number delivered once, no gap', async () => {
    const subs = ['cc-a', 'cc-b', 'cc-c'];
    for (const id of subs) await activeSubscription(db, id, 4);
    const recorders = subs.map((id) => recorder(store, id));
    const perSub = 40;
    const holding = new Set<string>();
    const overlaps: string[] = [];
    const delivered = new Map<string, number[]>(subs.map((id) => [id, []]));
    let writing = true;
    const writers = Promise.all(
      subs.flatMap((_id, i) => [0, 1].map(async () => {
        for (let n = 0; n < perSub / 2; n++) await recorders[i]!();
      })),
    ).finally(() => (writing = false));
    const done = async (): Promise<boolean> => {
      const res = await db.query<{ d: string }>('SELECT min(delivered_through) AS d FROM subscription_delivery WHERE subscription_id = ANY($1::text[])', [subs]);
      return Number(res.rows[0]!.d) === perSub;
    };
    const claimer = async (owner: string): Promise<void> => {
      let ack: Acknowledgement | undefined;
      for (;;) {
        const state = await store.claim(owner, 60_000, ack);
        ack = undefined;
        if (!state) {
          if (!writing && (await done())) return;
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        if (holding.has(state.id)) overlaps.push(state.id);
        holding.add(state.id);
        const from = state.deliveredThrough + 1;
        const to = state.batchTo ?? Math.min(state.eventsCount, from + state.maxCount - 1);
        expect(state.batch.map((e) => e.eventNumber)).toEqual(Array.from({ length: to - from + 1 }, (_, k) => from + k));
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        delivered.get(state.id)!.push(...state.batch.map((e) => e.eventNumber));
        holding.delete(state.id);
        ack = { id: state.id, deliveredThrough: to };
      }
    };
    await Promise.all([writers, ...Array.from({ length: 6 }, (_, i) => claimer(`claimer-${i}`))]);
    expect(overlaps).toEqual([]);
    for (const id of subs) expect(delivered.get(id)).toEqual(Array.from({ length: perSub }, (_, k) => k + 1));
  }, 60_000);
});

describe('batch window after a POST', () => {
  it('is the base window up to 8 events, one base more per 8 events after, never above the maximum; 0 turns it off', () => {
    expect([1, 8, 9, 16, 24, 100].map((n) => batchWindow(n, 10, 30))).toEqual([10, 10, 11, 20, 30, 30]);
    // A maximum at or below the base: the window does not grow.
    expect([1, 24].map((n) => batchWindow(n, 10, 0))).toEqual([10, 10]);
    expect(batchWindow(24, 0, 30)).toBe(0);
  });
});

describe('dispatcher: acknowledgements folded into claims, batch window', () => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase();
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  /** A dispatcher over a store that counts separate acknowledgements and folded ones; POSTs recorded. */
  function dispatcher(
    batchWindowMs: number,
    ackClaimDelayMs = 0,
    statuses: number[] = [],
    pollMs = 600_000,
    postDelayMs: (subscription: string) => number = () => 0,
    concurrency = 2,
    batchWindowMaxMs = 0,
    coalesceMs?: number,
  ): { d: Dispatcher; posts: { at: number; numbers: number[]; sub: string }[]; separate: string[]; folded: Acknowledgement[]; calls: Call[] } {
    const posts: { at: number; numbers: number[]; sub: string }[] = [];
    const separate: string[] = [];
    const folded: Acknowledgement[] = [];
    const calls: Call[] = [];
    const counting: DeliveryStore = {
      claimMany: async (owner, leaseMs, acks, limit) => {
        const call: Call = { at: performance.now(), acks: acks.map((a) => ({ ...a })), limit, claimed: [] };
        calls.push(call);
        if (acks.length > 0) {
          folded.push(...acks);
          // A busy pool: the claim carrying the acknowledgements starts this much after the POST answered.
          await new Promise((r) => setTimeout(r, ackClaimDelayMs));
        }
        const claimed = await store.claimMany(owner, leaseMs, acks, limit);
        call.claimed = claimed.map((c) => c.id);
        return claimed;
      },
      notifications: (id, from, to) => store.notifications(id, from, to),
      succeeded: (id, owner, u) => {
        separate.push(id);
        return store.succeeded(id, owner, u);
      },
      failed: (id, owner, u) => store.failed(id, owner, u),
      release: (id, owner, delayMs) => store.release(id, owner, delayMs),
      state: (id) => store.state(id),
      purge: (olderThan) => store.purge(olderThan),
    };
    const d = testDispatcher({
      store: counting,
      post: (_endpoint, _headers, body) => {
        const sub = /\/Subscription\/([^"/]+)"/.exec(body)?.[1] ?? '?';
        posts.push({ at: performance.now(), numbers: eventNumbers(body), sub });
        const status = statuses.shift() ?? 200;
        const delay = postDelayMs(sub);
        return delay > 0 ? new Promise((r) => setTimeout(() => r(status), delay)) : Promise.resolve(status);
      },
      // No poll within the tests unless asked: only wake-ups (and the end of a batch window) bring delivery.
      pollMs,
      concurrency,
      batchWindowMs,
      batchWindowMaxMs,
      ...(coalesceMs !== undefined ? { coalesceMs } : {}),
    });
    return { d, posts, separate, folded, calls };
  }

  it('a batch that emptied the backlog is acknowledged when its window ends, by the call that claims the Subscription again', async () => {
    await activeSubscription(db, 'dp-one-call', 20);
    const record = recorder(store, 'dp-one-call');
    const { d, posts, calls } = dispatcher(300);
    await d.start();
    try {
      await record();
      d.wake();
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1]]));
      const firstPost = posts[0]!.at;
      await record();
      await record();
      // Within the window the lease is still this dispatcher's: no other instance claims the Subscription.
      const other = await store.claimMany('another-instance', 60_000, [], 8);
      for (const c of other) await store.release(c.id, 'another-instance');
      expect(other.map((c) => c.id)).not.toContain('dp-one-call');
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1], [2, 3]]));
      // One call between the two POSTs acknowledges or claims: it acknowledges [1] (no hold left) and answers
      // the next batch. (A call the start-up wake left pending may find nothing: not counted.)
      const between = calls.filter((c) => c.at > firstPost && c.at < posts[1]!.at && (c.acks.length > 0 || c.claimed.length > 0));
      expect(between).toHaveLength(1);
      expect(between[0]!.acks).toMatchObject([{ id: 'dp-one-call', deliveredThrough: 1, holdMs: 0 }]);
      expect(between[0]!.claimed).toEqual(['dp-one-call']);
      expect(between[0]!.at - firstPost).toBeGreaterThanOrEqual(280);
      await eventually(async () => expect(await deliveredThrough(db, 'dp-one-call')).toBe(3));
    } finally {
      await d.stop();
    }
  });

  it('the window grows with the POST before it: after a POST of 24 events the next waits three base windows, after one event one', async () => {
    await activeSubscription(db, 'dp-grow', 100);
    // Base 100 ms, growing to at most 300 ms: 100 ms per 8 events of the POST that emptied the backlog.
    const { d, posts } = dispatcher(100, 0, [], 600_000, () => 0, 2, 300);
    await d.start();
    try {
      await recordEvents(store, 'dp-grow', 1, 1);
      d.wake();
      await eventually(() => expect(posts).toHaveLength(1));
      await recordEvents(store, 'dp-grow', 1, 2);
      d.wake();
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1], [2]]));
      const afterOne = posts[1]!.at - posts[0]!.at;
      expect(afterOne).toBeGreaterThanOrEqual(90);
      // Below what a 24-event POST waits (next): one event does not grow the window.
      expect(afterOne).toBeLessThan(280);
      // Once that window ended (its call acknowledged [2]: nothing held, nothing due), 24 events committed
      // without a wake go out in one POST.
      await eventually(async () => expect(await deliveredThrough(db, 'dp-grow')).toBe(2));
      await recordEvents(store, 'dp-grow', 24, 3);
      d.wake();
      await eventually(() => expect(posts).toHaveLength(3));
      expect(posts[2]!.numbers).toEqual(Array.from({ length: 24 }, (_, i) => i + 3));
      await recordEvents(store, 'dp-grow', 1, 27);
      d.wake();
      await eventually(() => expect(posts).toHaveLength(4));
      expect(posts[3]!.numbers).toEqual([27]);
      expect(posts[3]!.at - posts[2]!.at).toBeGreaterThanOrEqual(280);
    } finally {
      await d.stop();
    }
  });

  it('a held batch frees its slot without a call of its own: the end of its window acknowledges it and claims what waited for the slot', async () => {
    await activeSubscription(db, 'dp-slot-a', 20);
    await activeSubscription(db, 'dp-slot-b', 20);
    await recordEvents(store, 'dp-slot-a', 1);
    await recordEvents(store, 'dp-slot-b', 1);
    // One slot: the first call claims one of the two; the other waits for the slot.
    const { d, posts, calls } = dispatcher(200, 0, [], 600_000, () => 0, 1);
    await d.start();
    try {
      d.wake();
      await eventually(() => expect(posts).toHaveLength(2));
      const afterFirst = calls.filter((c) => c.at > posts[0]!.at && c.at < posts[1]!.at && (c.acks.length > 0 || c.claimed.length > 0));
      expect(afterFirst).toHaveLength(1);
      expect(afterFirst[0]!.acks.map((a) => [a.id, a.holdMs])).toEqual([[posts[0]!.sub, 0]]);
      expect(afterFirst[0]!.claimed).toEqual([posts[1]!.sub]);
    } finally {
      await d.stop();
    }
  });

  it('windows ending within the coalescing delay of each other end together: one call acknowledges both', async () => {
    await activeSubscription(db, 'dp-pair-a', 20);
    await activeSubscription(db, 'dp-pair-b', 20);
    await recordEvents(store, 'dp-pair-a', 1);
    await recordEvents(store, 'dp-pair-b', 1);
    // dp-pair-b's receiver answers 10 ms later: its window ends 10 ms after dp-pair-a's, well within a
    // coalescing delay of 50 ms even when the rest of the suite delays a timer by tens of ms (with the
    // default 5 ms, a 3 ms gap plus such a delay once split them).
    const { d, calls } = dispatcher(200, 0, [], 600_000, (sub) => (sub === 'dp-pair-b' ? 10 : 0), 2, 0, 50);
    await d.start();
    try {
      d.wake();
      await eventually(async () => expect([await deliveredThrough(db, 'dp-pair-a'), await deliveredThrough(db, 'dp-pair-b')]).toEqual([1, 1]));
      const acking = calls.filter((c) => c.acks.length > 0);
      expect(acking.map((c) => c.acks.map((a) => a.id).sort())).toEqual([['dp-pair-a', 'dp-pair-b']]);
    } finally {
      await d.stop();
    }
  });

  it('a commit naming only Subscriptions this instance holds (in flight or in their window) makes no call; one naming another does, at once', async () => {
    await activeSubscription(db, 'dp-held', 20);
    await activeSubscription(db, 'dp-free', 20);
    const held = recorder(store, 'dp-held');
    const free = recorder(store, 'dp-free');
    const { d, posts, calls } = dispatcher(600);
    await d.start();
    try {
      await held();
      d.wake(['dp-held']);
      await eventually(() => expect(posts.map((p) => `${p.sub} ${p.numbers.join(',')}`)).toEqual(['dp-held 1']));
      const firstPost = posts[0]!.at;
      // A call the start-up wake left pending settles first.
      await new Promise((r) => setTimeout(r, 50));
      const quietFrom = performance.now();
      // Each commit wakes the dispatcher with the Subscriptions it names, as the write hook and NOTIFY do.
      for (let i = 0; i < 3; i++) {
        await held();
        d.wake(['dp-held']);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(calls.filter((c) => c.at > quietFrom)).toEqual([]);
      // Another Subscription's event is claimed at once, within dp-held's window.
      await free();
      d.wake(['dp-free', 'dp-held']);
      await eventually(() => expect(posts.map((p) => `${p.sub} ${p.numbers.join(',')}`)).toEqual(['dp-held 1', 'dp-free 1']));
      expect(posts[1]!.at - firstPost).toBeLessThan(550);
      // dp-held's events went out when its window ended, by the call acknowledging [1].
      await eventually(() => expect(posts.map((p) => `${p.sub} ${p.numbers.join(',')}`)).toEqual(['dp-held 1', 'dp-free 1', 'dp-held 2,3,4']));
      expect(posts[2]!.at - firstPost).toBeGreaterThanOrEqual(550);
    } finally {
      await d.stop();
    }
  });

  it.skipIf(!postgresUrl())('the NOTIFY of a commit names its Subscriptions, each once (PostgreSQL)', async () => {
    const heard: (readonly string[] | undefined)[] = [];
    const stop = await store.onNotified((ids) => heard.push(ids));
    try {
      await activeSubscription(db, 'dp-named-a', 20);
      await activeSubscription(db, 'dp-named-b', 20);
      await store.appendAlone(
        () => ['dp-named-a', 'dp-named-b', 'dp-named-a'].map((id, n) => ({ subscriptionId: id, topic: 'dp-named', focusType: 'EpisodeOfCare', focusId: `dp-named-${n}`, focusVersion: 1 })),
        ['dp-named'],
      );
      await eventually(() => expect(heard).toEqual([['dp-named-a', 'dp-named-b']]));
    } finally {
      await stop();
      // Never delivered: gone, so that no later dispatcher here serves them.
      await db.query(`DELETE FROM subscription_channel WHERE subscription_id IN ('dp-named-a', 'dp-named-b')`);
    }
  });

  it('delivered batches are acknowledged by the next claim, never by a statement of their own', async () => {
    await activeSubscription(db, 'dp-fold', 3);
    const record = recorder(store, 'dp-fold');
    for (let i = 0; i < 7; i++) await record();
    const { d, posts, separate, folded } = dispatcher(0);
    await d.start();
    try {
      await eventually(async () => expect(await deliveredThrough(db, 'dp-fold')).toBe(7));
    } finally {
      await d.stop();
    }
    expect(posts.map((p) => p.numbers)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(separate).toEqual([]);
    expect(folded.map((a) => a.deliveredThrough)).toEqual([3, 6, 7]);
  });

  it('events committed within the batch window after a POST go out together, when the window ends', async () => {
    await activeSubscription(db, 'dp-window', 20);
    const record = recorder(store, 'dp-window');
    const { d, posts } = dispatcher(600);
    await d.start();
    try {
      await record();
      d.wake();
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1]]));
      // Each commit wakes the dispatcher, as the write hook does; the Subscription is still in its window.
      for (let i = 0; i < 3; i++) {
        await record();
        d.wake();
        await new Promise((r) => setTimeout(r, 20));
      }
      // Nothing else wakes it: the end of the window does.
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1], [2, 3, 4]]));
      expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(550);
      await eventually(async () => expect(await deliveredThrough(db, 'dp-window')).toBe(4));
    } finally {
      await d.stop();
    }
  });

  it('the end of the window wakes the dispatcher after the hold recorded, even when the acknowledging claim started late', async () => {
    await activeSubscription(db, 'dp-late-ack', 20);
    const record = recorder(store, 'dp-late-ack');
    const { d, posts } = dispatcher(100, 60);
    await d.start();
    try {
      await record();
      d.wake();
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1]]));
      // Committed within the window; nothing but the end of the window wakes the dispatcher (poll: 10 min).
      await record();
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1], [2]]), 2000);
    } finally {
      await d.stop();
    }
  });

  it('a resent failed batch that leaves a backlog is followed at once, not after the batch window', async () => {
    await activeSubscription(db, 'dp-resend', 5);
    const record = recorder(store, 'dp-resend');
    await record();
    await record();
    const { d, posts } = dispatcher(60_000, 0, [500]);
    await d.start();
    try {
      d.wake();
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1, 2]]));
      for (let i = 0; i < 10; i++) await record();
      // The retry is due after its backoff (the poll would find it; here the test wakes the dispatcher).
      await eventually(() => {
        d.wake();
        expect(posts.length).toBeGreaterThan(1);
      });
      // Events 3..12 were waiting behind the resent batch [1, 2]: they go out at once, in full batches.
      await eventually(() => expect(posts.map((p) => p.numbers)).toEqual([[1, 2], [1, 2], [3, 4, 5, 6, 7], [8, 9, 10, 11, 12]]), 3000);
    } finally {
      await d.stop();
    }
  });

  it('events committed in the window of a dispatcher that stopped go out through another instance', async () => {
    await activeSubscription(db, 'dp-stop', 20);
    const record = recorder(store, 'dp-stop');
    const a = dispatcher(300);
    await a.d.start();
    await record();
    a.d.wake();
    await eventually(() => expect(a.posts.map((p) => p.numbers)).toEqual([[1]]));
    await a.d.stop();
    await record();
    await record();
    // Another instance, which only its poll wakes: the held Subscription is served once the window ends.
    const b = dispatcher(300, 0, [], 100);
    await b.d.start();
    try {
      await eventually(() => expect(b.posts.map((p) => p.numbers)).toEqual([[2, 3]]), 3000);
      await eventually(async () => expect(await deliveredThrough(db, 'dp-stop')).toBe(3));
    } finally {
      await b.d.stop();
    }
    expect(a.posts.map((p) => p.numbers)).toEqual([[1]]);
  });
});

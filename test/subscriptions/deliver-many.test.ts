// One delivery call for several Subscriptions (migration 0018, docs/adr/0027): subscription_deliver_many
// acknowledges every batch a dispatcher delivered since its last call, each fenced by the lease token it
// was sent under, and leases several due Subscriptions at once. The dispatcher makes one such call at a
// time per instance, for as many Subscriptions as it has free slots, and serves each claimed one on its
// own. What must hold: one holder per Subscription at a time, numbers in order, each once, no gap; a
// stale sender's acknowledgement changes nothing even beside valid ones; a slow receiver only holds its
// own slot; an instance not yet upgraded (subscription_deliver) shares the database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Database, Queryable } from '../../src/storage/database.js';
import type { Acknowledgement, Claimed, DeliveryStore, LeasedAcknowledgement } from '../../src/subscriptions/store.js';
import { openTestDatabase, postgresUrl, storageBackends } from '../support/db.js';
import { activeSubscriptionRow, eventNumbers, recordEvents, testDispatcher } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => unknown, timeoutMs = 10_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (performance.now() > until) throw err;
      await sleep(10);
    }
  }
}

interface Row {
  through: number;
  owner: string | null;
  leased: boolean;
}

async function deliveryRows(db: Database, ids: readonly string[]): Promise<Record<string, Row>> {
  const res = await db.query<{ id: string; d: string; o: string | null; l: boolean | null }>(
    'SELECT subscription_id AS id, delivered_through AS d, lease_owner AS o, lease_until > now() AS l FROM subscription_delivery WHERE subscription_id = ANY ($1::text[])',
    [ids],
  );
  return Object.fromEntries(res.rows.map((r) => [r.id, { through: Number(r.d), owner: r.o, leased: r.l === true }]));
}

/** Only these Subscriptions are due in the shared database (earlier tests' ones wait a day). */
const onlyDue = (db: Database, ids: readonly string[]): Promise<unknown> =>
  db.query("UPDATE subscription_delivery SET next_attempt_at = now() + interval '1 day' WHERE NOT (subscription_id = ANY ($1::text[]))", [ids]);

const numbers = (c: Claimed | undefined): number[] => (c?.batch ?? []).map((e) => e.eventNumber);

describe.each(storageBackends())('one delivery call for several Subscriptions (%s)', (backend) => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('one call claims several Subscriptions; the next acknowledges several batches and claims again what is still due', async () => {
    const ids = ['dm-a', 'dm-b', 'dm-c'];
    for (const id of ids) await activeSubscriptionRow(db, id, { maxCount: 2 });
    await onlyDue(db, ids);
    await recordEvents(store, 'dm-a', 4);
    await recordEvents(store, 'dm-b', 2);
    await recordEvents(store, 'dm-c', 2);

    const first = await store.claimMany('call-1', 60_000, [], 3);
    expect(first.map((c) => c.id).sort()).toEqual(ids);
    for (const c of first) expect(numbers(c)).toEqual([1, 2]);
    expect(await deliveryRows(db, ids)).toEqual({
      'dm-a': { through: 0, owner: 'call-1', leased: true },
      'dm-b': { through: 0, owner: 'call-1', leased: true },
      'dm-c': { through: 0, owner: 'call-1', leased: true },
    });

    // a and b delivered; c still in flight. a has 3, 4 due: claimed again by this call; b nothing; c is leased.
    const second = await store.claimMany('call-2', 60_000, [
      { id: 'dm-a', owner: 'call-1', deliveredThrough: 2 },
      { id: 'dm-b', owner: 'call-1', deliveredThrough: 2 },
    ], 3);
    expect(second.map((c) => c.id)).toEqual(['dm-a']);
    expect(numbers(second[0])).toEqual([3, 4]);
    expect(await deliveryRows(db, ids)).toEqual({
      'dm-a': { through: 2, owner: 'call-2', leased: true },
      'dm-b': { through: 2, owner: null, leased: false },
      'dm-c': { through: 0, owner: 'call-1', leased: true },
    });

    // Acknowledgements only (limit 0): both recorded, nothing claimed although b has a new event.
    await recordEvents(store, 'dm-b', 1, 3);
    expect(await store.claimMany('call-3', 60_000, [
      { id: 'dm-a', owner: 'call-2', deliveredThrough: 4 },
      { id: 'dm-c', owner: 'call-1', deliveredThrough: 2, holdMs: 60_000 },
    ], 0)).toEqual([]);
    expect(await deliveryRows(db, ids)).toEqual({
      'dm-a': { through: 4, owner: null, leased: false },
      'dm-b': { through: 2, owner: null, leased: false },
      'dm-c': { through: 2, owner: null, leased: false },
    });
    // c is held by its batch window; b's new event is due.
    const third = await store.claimMany('call-4', 60_000, [], 3);
    expect(third.map((c) => [c.id, numbers(c)])).toEqual([['dm-b', [3]]]);
    await store.claimMany('call-5', 60_000, [{ id: 'dm-b', owner: 'call-4', deliveredThrough: 3 }], 0);
  });

  it('at most `limit` Subscriptions, those due longest first', async () => {
    const ids = ['dm-l1', 'dm-l2', 'dm-l3'];
    for (const id of ids) await activeSubscriptionRow(db, id, { maxCount: 5 });
    for (const id of ids) await recordEvents(store, id, 1);
    await onlyDue(db, ids);
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '1 minute' WHERE subscription_id = 'dm-l3'");
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '2 minutes' WHERE subscription_id = 'dm-l2'");
    const claimed = await store.claimMany('limit', 60_000, [], 2);
    expect(claimed.map((c) => c.id)).toEqual(['dm-l2', 'dm-l3']);
    expect((await store.claimMany('limit-2', 60_000, claimed.map((c) => ({ id: c.id, owner: 'limit', deliveredThrough: 1 })), 5)).map((c) => c.id)).toEqual(['dm-l1']);
    await store.claimMany('limit-3', 60_000, [{ id: 'dm-l1', owner: 'limit-2', deliveredThrough: 1 }], 0);
  });

  it('fencing per acknowledgement: a stale sender’s acknowledgement changes nothing, the valid one beside it counts', async () => {
    const ids = ['dm-f1', 'dm-f2'];
    for (const id of ids) await activeSubscriptionRow(db, id, { maxCount: 3 });
    for (const id of ids) await recordEvents(store, id, 3);
    await onlyDue(db, ids);
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '1 minute' WHERE subscription_id = 'dm-f1'");
    expect((await store.claimMany('holder', 60_000, [], 1)).map((c) => c.id)).toEqual(['dm-f1']);
    // f2 under a lease that runs out while its sender stalls; another call takes it over.
    expect((await store.claimMany('stalled', 1, [], 1)).map((c) => c.id)).toEqual(['dm-f2']);
    await sleep(20);
    const takeover = await store.claimMany('new-holder', 60_000, [], 5);
    expect(takeover.map((c) => [c.id, numbers(c)])).toEqual([['dm-f2', [1, 2, 3]]]);

    // One call carries the holder's acknowledgement of f1 and the stalled sender's of f2.
    await store.claimMany('acks', 60_000, [
      { id: 'dm-f1', owner: 'holder', deliveredThrough: 3 },
      { id: 'dm-f2', owner: 'stalled', deliveredThrough: 3 },
    ], 0);
    expect(await deliveryRows(db, ids)).toEqual({
      'dm-f1': { through: 3, owner: null, leased: false },
      'dm-f2': { through: 0, owner: 'new-holder', leased: true },
    });
    // The new holder's failure keeps the batch in flight; its resend carries the same numbers.
    await store.failed('dm-f2', 'new-holder', { batchTo: 3, delayMs: 0, error: 'receiver answered 500' });
    const resent = await store.claimMany('resend', 60_000, [], 5);
    expect(resent.map((c) => [c.id, numbers(c), c.batchTo, c.attempts])).toEqual([['dm-f2', [1, 2, 3], 3, 1]]);
    await store.claimMany('done', 60_000, [{ id: 'dm-f2', owner: 'resend', deliveredThrough: 3 }], 0);
  });

  it('a dispatcher acknowledges the batches of receivers that answer together in one call, which claims them all again', async () => {
    const ids = ['dm-d1', 'dm-d2', 'dm-d3', 'dm-d4'];
    for (const id of ids) await activeSubscriptionRow(db, id, { maxCount: 1 });
    for (const id of ids) await recordEvents(store, id, 3);
    await onlyDue(db, ids);
    const calls: { acks: number; claimed: number }[] = [];
    const counting: DeliveryStore = Object.assign(Object.create(store) as SubscriptionStore, {
      claimMany: async (owner: string, leaseMs: number, acks: readonly LeasedAcknowledgement[], limit: number): Promise<Claimed[]> => {
        const claimed = await store.claimMany(owner, leaseMs, acks, limit);
        calls.push({ acks: acks.length, claimed: claimed.length });
        return claimed;
      },
    });
    // The receivers answer once all four POSTs of a round are in: their acknowledgements arrive together.
    let waiting: (() => void)[] = [];
    const posts: { id: string; numbers: number[] }[] = [];
    const d = testDispatcher({
      store: counting,
      concurrency: 4,
      pollMs: 600_000,
      post: (_endpoint, _headers, body) => {
        posts.push({ id: /\/Subscription\/([^"/]+)"/.exec(body)?.[1] ?? '?', numbers: eventNumbers(body) });
        return new Promise<number>((resolve) => {
          waiting.push(() => resolve(200));
          if (waiting.length === 4) {
            for (const answer of waiting) answer();
            waiting = [];
          }
        });
      },
    });
    await d.start();
    try {
      await eventually(async () => expect(Object.values(await deliveryRows(db, ids)).map((r) => r.through)).toEqual([3, 3, 3, 3]));
    } finally {
      await d.stop();
    }
    for (const id of ids) expect(posts.filter((p) => p.id === id).flatMap((p) => p.numbers)).toEqual([1, 2, 3]);
    // Round 1: one call claims all four; rounds 2 and 3: one call acknowledges four and claims four;
    // then one acknowledges the last four and finds nothing.
    expect(calls).toEqual([{ acks: 0, claimed: 4 }, { acks: 4, claimed: 4 }, { acks: 4, claimed: 4 }, { acks: 4, claimed: 0 }]);
  });

  it('a slow receiver holds only its own slot: another Subscription’s events go out meanwhile, in order', async () => {
    const ids = ['dm-slow', 'dm-fast'];
    for (const id of ids) await activeSubscriptionRow(db, id, { maxCount: 2 });
    await onlyDue(db, ids);
    await recordEvents(store, 'dm-slow', 1);
    let answerSlow!: () => void;
    const slowAnswered = new Promise<number>((resolve) => (answerSlow = () => resolve(200)));
    const fast: number[][] = [];
    const d = testDispatcher({
      store,
      concurrency: 2,
      post: (_endpoint, _headers, body) => {
        if (body.includes('/Subscription/dm-slow"')) return slowAnswered;
        fast.push(eventNumbers(body));
        return Promise.resolve(200);
      },
    });
    await d.start();
    try {
      await eventually(async () => expect((await deliveryRows(db, ['dm-slow']))['dm-slow']!.leased).toBe(true));
      // While the slow POST is outstanding, the fast Subscription's events commit and go out.
      for (let n = 1; n <= 6; n++) {
        await recordEvents(store, 'dm-fast', 1, n);
        d.wake();
        await sleep(15);
      }
      await eventually(async () => expect((await deliveryRows(db, ['dm-fast']))['dm-fast']!.through).toBe(6));
      expect(fast.flat()).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await deliveryRows(db, ['dm-slow'])).toMatchObject({ 'dm-slow': { through: 0, leased: true } });
      answerSlow();
      await eventually(async () => expect((await deliveryRows(db, ['dm-slow']))['dm-slow']!.through).toBe(1));
    } finally {
      answerSlow();
      await d.stop();
    }
  });
});

// Several connections at once: PostgreSQL only (PGlite is one connection).
describe.skipIf(!postgresUrl())('one delivery call for several Subscriptions, concurrently (postgres)', () => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase('postgres', { max: 14 });
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('four multi-claimers and two of an instance not yet upgraded while events commit: one holder at a time, each number once, in order, no gap', async () => {
    const subs = ['mc-a', 'mc-b', 'mc-c', 'mc-d', 'mc-e'];
    for (const id of subs) await activeSubscriptionRow(db, id, { maxCount: 3 });
    await onlyDue(db, subs);
    const perSub = 30;
    const holding = new Set<string>();
    const overlaps: string[] = [];
    const misnumbered: string[] = [];
    const delivered = new Map<string, number[]>(subs.map((id) => [id, []]));
    let writing = true;
    const next = new Map(subs.map((id) => [id, 0]));
    const writers = Promise.all(
      subs.flatMap((id) => [0, 1].map(async () => {
        for (let n = 0; n < perSub / 2; n++) await recordEvents(store, id, 1, next.set(id, next.get(id)! + 1).get(id));
      })),
    ).finally(() => (writing = false));
    const done = async (): Promise<boolean> => {
      const res = await db.query<{ d: string }>('SELECT min(delivered_through) AS d FROM subscription_delivery WHERE subscription_id = ANY($1::text[])', [subs]);
      return Number(res.rows[0]!.d) === perSub;
    };
    /** A POST: checks the batch, holds the Subscription for a few ms, records its numbers. */
    const send = async (state: Claimed): Promise<number> => {
      if (holding.has(state.id)) overlaps.push(state.id);
      holding.add(state.id);
      const from = state.deliveredThrough + 1;
      const to = state.batchTo ?? Math.min(state.eventsCount, from + state.maxCount - 1);
      const expected = Array.from({ length: to - from + 1 }, (_, k) => from + k);
      if (JSON.stringify(numbers(state)) !== JSON.stringify(expected)) misnumbered.push(`${state.id} ${JSON.stringify(numbers(state))}`);
      await sleep(Math.random() * 4);
      delivered.get(state.id)!.push(...numbers(state));
      holding.delete(state.id);
      return to;
    };
    let calls = 0;
    const multiClaimer = async (name: string): Promise<void> => {
      let acks: LeasedAcknowledgement[] = [];
      for (;;) {
        const owner = `${name}/${++calls}`;
        const claimed = await store.claimMany(owner, 60_000, acks, 2);
        acks = [];
        if (claimed.length === 0) {
          if (!writing && (await done())) return;
          await sleep(2);
          continue;
        }
        for (const state of claimed) acks.push({ id: state.id, owner, deliveredThrough: await send(state) });
      }
    };
    const oldClaimer = async (owner: string): Promise<void> => {
      let ack: Acknowledgement | undefined;
      for (;;) {
        const state = await store.claim(owner, 60_000, ack);
        ack = undefined;
        if (!state) {
          if (!writing && (await done())) return;
          await sleep(2);
          continue;
        }
        ack = { id: state.id, deliveredThrough: await send(state), keep: true };
      }
    };
    await Promise.all([writers, ...[0, 1, 2, 3].map((i) => multiClaimer(`many-${i}`)), oldClaimer('old-0'), oldClaimer('old-1')]);
    expect(overlaps).toEqual([]);
    expect(misnumbered).toEqual([]);
    for (const id of subs) expect(delivered.get(id)).toEqual(Array.from({ length: perSub }, (_, k) => k + 1));
  }, 90_000);

  it('a multi-claim skips a Subscription whose DELETE holds its channel row, acknowledging another meanwhile; no deadlock', async () => {
    const ids = ['mc-del', 'mc-keep'];
    for (const id of ids) await activeSubscriptionRow(db, id, { maxCount: 5 });
    for (const id of ids) await recordEvents(store, id, 1);
    await onlyDue(db, ['mc-keep']);
    const [held] = await store.claimMany('lock-1', 60_000, [], 1);
    expect(held?.id).toBe('mc-keep');
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() WHERE subscription_id = 'mc-del'");
    let claim!: Promise<Claimed[]>;
    await db.transaction(async (q: Queryable) => {
      // What DELETE FROM subscription_channel does first (the row lock), then the cascade to the delivery row.
      await q.query("SELECT 1 FROM subscription_channel WHERE subscription_id = 'mc-del' FOR UPDATE");
      claim = store.claimMany('lock-2', 60_000, [{ id: 'mc-keep', owner: 'lock-1', deliveredThrough: 1 }], 5);
      await claim;
      await q.query("DELETE FROM subscription_channel WHERE subscription_id = 'mc-del'");
    });
    expect(await claim).toEqual([]);
    expect(await deliveryRows(db, ids)).toEqual({ 'mc-keep': { through: 1, owner: null, leased: false } });
  });
});

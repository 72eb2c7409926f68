// The kept lease (migration 0016, docs/adr/0023): after a full batch the holder may keep the Subscription
// and send its next batch without a claim over every Subscription. It must stay a lease like any other:
// only its holder keeps it (a claimer that took over an expired lease fences the old holder out), it is
// never kept without events due, and a busy Subscription does not keep others waiting for long. Since
// migration 0018 (docs/adr/0027) the dispatcher no longer asks to keep (each acknowledgement releases, and
// the claim in the same call takes the oldest due first); the store-level tests stay for an instance not
// yet upgraded, which still calls subscription_deliver with keep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { activeSubscriptionRow, eventNumbers, recordEvents, testDispatcher } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(storageBackends())('kept lease (%s)', (backend) => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  const record = (id: string, count: number): Promise<void> => recordEvents(store, id, count);
  const delivery = async (id: string): Promise<{ through: number; owner: string | null; leased: boolean }> => {
    const r = await db.query<{ d: string; o: string | null; l: boolean }>(
      'SELECT delivered_through AS d, lease_owner AS o, lease_until > now() AS l FROM subscription_delivery WHERE subscription_id = $1',
      [id],
    );
    return { through: Number(r.rows[0]!.d), owner: r.rows[0]!.o, leased: r.rows[0]!.l === true };
  };

  it('the holder keeps a Subscription with events due, ahead of one due longer; without keep the claim takes the other', async () => {
    await activeSubscriptionRow(db, 'kl-a', { maxCount: 2 });
    await activeSubscriptionRow(db, 'kl-b', { maxCount: 2 });
    // b is due first (older next_attempt_at): the claim serves it before a.
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '1 hour' WHERE subscription_id = 'kl-b'");
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '1 minute' WHERE subscription_id = 'kl-a'");
    await record('kl-a', 6);
    await record('kl-b', 2);
    // Only a is due for now: b's events are delivered by hand below.
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() + interval '1 hour' WHERE subscription_id = 'kl-b'");
    const first = await store.claim('w1', 60_000);
    expect(first?.id).toBe('kl-a');
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '1 hour' WHERE subscription_id = 'kl-b'");

    const kept = await store.claim('w1', 60_000, { id: 'kl-a', deliveredThrough: 2, keep: true });
    expect(kept?.id).toBe('kl-a');
    expect(kept?.batch.map((e) => e.eventNumber)).toEqual([3, 4]);
    expect(await delivery('kl-a')).toEqual({ through: 2, owner: 'w1', leased: true });

    // Not kept: acknowledged, released, and the claim takes b (due longer).
    const other = await store.claim('w1', 60_000, { id: 'kl-a', deliveredThrough: 4 });
    expect(other?.id).toBe('kl-b');
    expect(await delivery('kl-a')).toEqual({ through: 4, owner: null, leased: false });
  });

  it('nothing due: keep acknowledges and releases like an acknowledgement, and the claim goes on to others', async () => {
    await activeSubscriptionRow(db, 'kl-c', { maxCount: 2 });
    await record('kl-c', 2);
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '90 minutes' WHERE subscription_id = 'kl-c'");
    const c = await store.claim('w2', 60_000);
    expect(c?.id).toBe('kl-c');
    const next = await store.claim('w2', 60_000, { id: 'kl-c', deliveredThrough: 2, keep: true });
    expect(next?.id).not.toBe('kl-c');
    expect(await delivery('kl-c')).toEqual({ through: 2, owner: null, leased: false });
    if (next) await store.release(next.id, 'w2');
  });

  it('a holder whose lease expired and was taken over neither keeps nor acknowledges (fenced by the new owner)', async () => {
    await activeSubscriptionRow(db, 'kl-d', { maxCount: 2 });
    await record('kl-d', 6);
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '2 hours' WHERE subscription_id = 'kl-d'");
    const old = await store.claim('old-holder', 60_000);
    expect(old?.id).toBe('kl-d');
    // The old holder stalls past its lease; another instance takes the Subscription over (same batch).
    await db.query("UPDATE subscription_delivery SET lease_until = now() - interval '1 millisecond' WHERE subscription_id = 'kl-d'");
    const taken = await store.claim('new-holder', 60_000);
    expect(taken?.id).toBe('kl-d');
    expect(taken?.batch.map((e) => e.eventNumber)).toEqual([1, 2]);

    const late = await store.claim('old-holder', 60_000, { id: 'kl-d', deliveredThrough: 2, keep: true });
    expect(late?.id).not.toBe('kl-d');
    if (late) await store.release(late.id, 'old-holder');
    expect(await delivery('kl-d')).toEqual({ through: 0, owner: 'new-holder', leased: true });

    // The new holder's own keep goes on with the next batch.
    const next = await store.claim('new-holder', 60_000, { id: 'kl-d', deliveredThrough: 2, keep: true });
    expect(next?.id).toBe('kl-d');
    expect(next?.batch.map((e) => e.eventNumber)).toEqual([3, 4]);
    await store.release('kl-d', 'new-holder');
  });

  it('an instance not yet upgraded still calls the five-parameter delivery statement', async () => {
    await activeSubscriptionRow(db, 'kl-e', { maxCount: 2 });
    await record('kl-e', 1);
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() - interval '3 hours' WHERE subscription_id = 'kl-e'");
    const res = await db.query<{ subscription_id: string; events_count: string }>('SELECT subscription_id, events_count FROM subscription_deliver($1, $2, $3, $4, $5)', ['old', 60_000, null, null, 0]);
    expect(res.rows.map((r) => `${r.subscription_id} ${Number(r.events_count)}`)).toEqual(['kl-e 1']);
    await store.release('kl-e', 'old');
  });

  it('one slot and two busy Subscriptions: the claim takes the one due longer, so they alternate; each in order, gapless', async () => {
    const ids = ['kl-f', 'kl-g'];
    for (const id of ids) await activeSubscriptionRow(db, id, { maxCount: 3 });
    // Nothing else is due in this database (the tests above left their Subscriptions acknowledged or released).
    await db.query("UPDATE subscription_delivery SET next_attempt_at = now() + interval '1 day' WHERE subscription_id NOT IN ('kl-f', 'kl-g')");
    for (const id of ids) await record(id, 30);
    const posts: { id: string; numbers: number[] }[] = [];
    const d = testDispatcher({
      store,
      post: (_endpoint, _headers, body) => {
        const id = /\/Subscription\/([^"/]+)"/.exec(body)?.[1] ?? '?';
        const numbers = eventNumbers(body);
        if (numbers.length > 0) posts.push({ id, numbers });
        return Promise.resolve(200);
      },
    });
    await d.start();
    try {
      const until = performance.now() + 20_000;
      while (posts.filter((p) => p.numbers.includes(30)).length < 2 && performance.now() < until) await sleep(10);
    } finally {
      await d.stop();
    }
    for (const id of ids) {
      expect(posts.filter((p) => p.id === id).flatMap((p) => p.numbers)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    }
    // Runs of one Subscription's POSTs while the other still had events to send.
    const runs: number[] = [];
    for (let i = 0; i < posts.length; i++) {
      const otherDone = posts.slice(0, i).some((p) => p.id !== posts[i]!.id && p.numbers.includes(30));
      if (otherDone) break;
      if (i > 0 && posts[i - 1]!.id === posts[i]!.id) runs[runs.length - 1]!++;
      else runs.push(1);
    }
    // The acknowledged one is due again at once, but after the other, which waited longer.
    expect(Math.max(...runs)).toBe(1);
  }, 30_000);
});

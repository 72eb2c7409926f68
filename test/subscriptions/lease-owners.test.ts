// Each worker of a dispatcher leases under its own owner. A worker stalled past its lease (a long pause)
// comes back after another worker of the same instance took the Subscription over: its acknowledgement
// must not count, or it would end the new holder's lease while that holder's POST is still in flight
// and claim the next batch at once, so two POSTs of one Subscription would overlap and the later
// numbers could arrive before the earlier ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { activeSubscriptionRow, eventNumbers, recordEvents, testDispatcher } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(storageBackends())('dispatcher workers lease under their own owners (%s)', (backend) => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('a stalled worker’s late acknowledgement neither ends the new holder’s lease nor starts the next batch beside its POST', async () => {
    const id = 'lease-owners';
    await activeSubscriptionRow(db, id, { maxCount: 3 });
    await recordEvents(store, id, 6);

    // POST 1 stalls 200 ms, and its lease runs out meanwhile (as after a long pause: ended here by hand, so
    // the takeover does not depend on timing); POST 2 (the takeover, same batch) takes 400 ms; the rest
    // answer at once.
    const posts: { numbers: number[]; start: number; end: number }[] = [];
    const stalls = [200, 400];
    const d = testDispatcher({
      store,
      post: async (_endpoint, _headers, body) => {
        const post = { numbers: eventNumbers(body), start: performance.now(), end: 0 };
        posts.push(post);
        if (posts.length === 1) await db.query("UPDATE subscription_delivery SET lease_until = now() - interval '1 millisecond' WHERE subscription_id = $1", [id]);
        await sleep(stalls[posts.length - 1] ?? 0);
        post.end = performance.now();
        return 200;
      },
      concurrency: 2,
    });
    await d.start();
    try {
      const until = performance.now() + 10_000;
      while (!posts.some((p) => p.numbers.includes(6) && p.end > 0) && performance.now() < until) await sleep(10);
    } finally {
      await d.stop();
    }

    const first = posts.filter((p) => p.numbers[0] === 1);
    const next = posts.filter((p) => p.numbers[0] === 4);
    // The stalled POST and the takeover's POST carried the same batch (at least once, same numbers).
    expect(first.map((p) => p.numbers)).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(next.length).toBeGreaterThanOrEqual(1);
    // The next batch went out only after the holder's POST of the batch before it had answered.
    for (const p of next) expect(p.start).toBeGreaterThanOrEqual(first[1]!.end);
    expect(Number((await db.query<{ d: string }>('SELECT delivered_through AS d FROM subscription_delivery WHERE subscription_id = $1', [id])).rows[0]!.d)).toBe(6);
  }, 30_000);
});

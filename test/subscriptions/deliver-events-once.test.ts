// The delivery call answers each event once, however many of the Subscriptions it claims carry it
// (migration 0021, docs/adr/0027 addendum "each event once per call"), and an instance not yet upgraded
// keeps getting what subscription_deliver_many answered before from the same database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Database, Queryable } from '../../src/storage/database.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { activeSubscriptionRow, recordEvents } from './support.js';

const CALL = 'SELECT * FROM subscription_deliver_many_shared($1, 60000, $2::text[], $3::text[], $4::bigint[], $5::int[], 10)';
const OLD_CALL = 'SELECT * FROM subscription_deliver_many($1, 60000, $2::text[], $3::text[], $4::bigint[], $5::int[], 10)';

interface AnswerRow {
  subscription_id: string;
  batch_numbers: string[] | null;
  events: unknown[][] | string | null;
}

/** Rolls back whatever fn did (a claim made only to read its answer). */
async function rolledBack<T>(db: Database, fn: (q: Queryable) => Promise<T>): Promise<T> {
  let out: T | undefined;
  const rollback = new Error('rollback');
  await db
    .transaction(async (q) => {
      out = await fn(q);
      throw rollback;
    })
    .catch((err: unknown) => {
      if (err !== rollback) throw err;
    });
  return out as T;
}

describe.each(storageBackends())('one delivery call answers each event once (%s)', (backend) => {
  let db: Database;
  let store: SubscriptionStore;
  const ids = ['once-a', 'once-b', 'once-c'];
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    store = new SubscriptionStore(db);
    for (const id of ids) await activeSubscriptionRow(db, id, { maxCount: 50 });
    // once-a has an event of its own first; then four events that all three carry.
    await recordEvents(store, 'once-a', 1);
    for (let n = 1; n <= 4; n++) {
      await store.appendAlone(() => ids.map((subscriptionId) => ({ subscriptionId, topic: 'once', focusType: 'EpisodeOfCare', focusId: `shared-${n}`, focusVersion: n })), []);
    }
  });
  afterAll(async () => {
    await db.close();
  });

  it('an instance not yet upgraded (subscription_deliver_many) gets the batches and counts the new call gives', async () => {
    const old = await rolledBack(db, async (q) => (await q.query<{ subscription_id: string; events_count: string; events: unknown }>(OLD_CALL, ['old', [], [], [], []])).rows);
    const before = Object.fromEntries(
      old
        .filter((r) => ids.includes(r.subscription_id))
        .map((r) => {
          const events = (typeof r.events === 'string' ? JSON.parse(r.events) : r.events) as [number, unknown, unknown, string][];
          return [r.subscription_id, { count: Number(r.events_count), batch: events.map((e) => `${e[0]} ${e[3]}`) }];
        }),
    );
    const claimed = (await store.claimMany('new', 60_000, [], 10)).filter((c) => ids.includes(c.id));
    // Released again, numbered: the next test's call claims them with the same numbers.
    for (const c of claimed) await store.release(c.id, 'new');
    const now = Object.fromEntries(claimed.map((c) => [c.id, { count: c.eventsCount, batch: c.batch.map((e) => `${e.eventNumber} ${e.focusId}`) }]));
    expect(now).toEqual(before);
    expect(now['once-a']).toEqual({ count: 5, batch: ['1 once-a-1', '2 shared-1', '3 shared-2', '4 shared-3', '5 shared-4'] });
    expect(now['once-b']).toEqual({ count: 4, batch: ['1 shared-1', '2 shared-2', '3 shared-3', '4 shared-4'] });
  });

  it('the four shared events come once each, beside the three batches that carry them under their own numbers', async () => {
    const rows = await rolledBack(db, async (q) => (await q.query<AnswerRow>(CALL, ['shared', [], [], [], []])).rows);
    const subscriptions = rows.filter((r) => ids.includes(r.subscription_id));
    expect(Object.fromEntries(subscriptions.map((r) => [r.subscription_id, r.batch_numbers?.map(Number)]))).toEqual({
      'once-a': [1, 2, 3, 4, 5],
      'once-b': [1, 2, 3, 4],
      'once-c': [1, 2, 3, 4],
    });
    // One row carries the events, each once: the position and fields of each, focus ids here.
    const carrying = rows.filter((r) => r.events !== null);
    expect(carrying).toHaveLength(1);
    const events = (typeof carrying[0]!.events === 'string' ? JSON.parse(carrying[0]!.events) : carrying[0]!.events) as unknown[][];
    expect(events.map((e) => e[3]).sort()).toEqual(['once-a-1', 'shared-1', 'shared-2', 'shared-3', 'shared-4']);
  });
});

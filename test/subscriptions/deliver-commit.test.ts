// Which delivery calls wait for their own WAL flush (migration 0018, docs/adr/0023 addendum): a call that
// leases a Subscription, or gives positions, commits synchronously (the lease, the positions and the
// numbers must survive a crash of PostgreSQL before the POST that uses them goes out); a call that leases
// nothing and positions nothing (it only acknowledges) commits without waiting. The setting is read inside
// the call's transaction, where subscription_deliver leaves it (SET LOCAL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { activeSubscriptionRow } from './support.js';

interface Call {
  id: string | null;
  events: unknown;
  sync: string;
}

/** subscription_deliver in a transaction of its own, with the synchronous_commit its commit will use. */
async function deliver(db: Database, owner: string, ack?: { id: string; through: number }): Promise<Call> {
  return db.transaction(async (q) => {
    const res = await q.query<{ subscription_id: string | null; events: unknown }>('SELECT subscription_id, events FROM subscription_deliver($1, $2, $3, $4, $5, $6)', [
      owner,
      60_000,
      ack?.id ?? null,
      ack?.through ?? null,
      0,
      false,
    ]);
    const sync = await q.query<{ s: string }>("SELECT current_setting('synchronous_commit') AS s");
    return { id: res.rows[0]?.subscription_id ?? null, events: res.rows[0]?.events ?? null, sync: sync.rows[0]!.s };
  });
}

describe.each(storageBackends())('which delivery calls commit synchronously (%s)', (backend) => {
  let db: Database;
  let store: SubscriptionStore;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    store = new SubscriptionStore(db);
  });
  afterAll(async () => {
    await db.close();
  });

  const record = (id: string, focus: string): Promise<void> =>
    store.appendAlone(() => [{ subscriptionId: id, topic: id, focusType: 'EpisodeOfCare', focusId: focus, focusVersion: 1 }], [id]);

  it('a claim commits synchronously; an acknowledgement that leases and positions nothing does not', async () => {
    await activeSubscriptionRow(db, 'dc-a', { maxCount: 10 });
    await record('dc-a', 'a-1');
    await record('dc-a', 'a-2');
    const claim = await deliver(db, 'owner-a');
    expect(claim).toMatchObject({ id: 'dc-a', sync: 'on' });
    // The holder acknowledges; nothing else is due and nothing was left to position.
    const ack = await deliver(db, 'owner-a', { id: 'dc-a', through: 2 });
    expect(ack).toEqual({ id: null, events: null, sync: 'off' });
    // The acknowledgement took effect: the next event is numbered 3 and is the only one sent.
    await record('dc-a', 'a-3');
    const next = await store.claim('owner-a', 60_000);
    expect(next).toMatchObject({ id: 'dc-a', deliveredThrough: 2, eventsCount: 3 });
    expect(next!.batch.map((e) => `${e.eventNumber} ${e.focusId}`)).toEqual(['3 a-3']);
    await store.succeeded('dc-a', 'owner-a', { deliveredThrough: 3, handshakeDone: true });
  });

  it('a call that finds nothing to lease but gave positions commits synchronously', async () => {
    await activeSubscriptionRow(db, 'dc-b', { maxCount: 10 });
    await record('dc-b', 'b-1');
    const held = await deliver(db, 'owner-a');
    expect(held).toMatchObject({ id: 'dc-b', sync: 'on' });
    // Committed while owner-a holds the lease: owner-b positions it and finds nothing it may claim.
    await record('dc-b', 'b-2');
    const empty = await deliver(db, 'owner-b');
    expect(empty).toEqual({ id: null, events: null, sync: 'on' });
    // The holder's acknowledgement then claims it again for b-2, numbered 2.
    const again = await store.claim('owner-a', 60_000, { id: 'dc-b', deliveredThrough: 1 });
    expect(again!.batch.map((e) => `${e.eventNumber} ${e.focusId}`)).toEqual(['2 b-2']);
  });
});

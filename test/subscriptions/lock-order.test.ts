// Lock order between the dispatcher's claim, writers of a Subscription and writers of its events
// (PostgreSQL: two connections). A writer that deletes or re-requests a Subscription locks its channel
// row, then its delivery row; a claim must never hold the delivery row while waiting for the channel row
// (it skips a Subscription being written instead), or the two deadlock. appendIn takes no lock on
// Subscriptions at all (migration 0014), so it cannot deadlock with their writers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { Queryable } from '../../src/storage/database.js';
import { postgresUrl } from '../support/db.js';
import type { TestServer } from '../support/server.js';
import { FHIR_JSON } from '../support/server.js';
import { putSubscription, startSubscriptionServer, stored } from './support.js';

describe.skipIf(!postgresUrl())('subscription lock order (postgres)', () => {
  let s: TestServer;
  let store: SubscriptionStore;
  beforeAll(async () => {
    s = await startSubscriptionServer({ SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' });
    store = new SubscriptionStore(s.db);
  });
  afterAll(async () => {
    await s.close();
  });

  const writePatient = async (id: string, gender = 'male'): Promise<void> => {
    const res = await s.request({ method: 'PUT', url: `/fhir/Patient/${id}`, payload: { resourceType: 'Patient', id, gender }, headers: { 'content-type': FHIR_JSON } });
    expect(res.statusCode, res.body).toBeLessThan(300);
  };
  /** An active rest-hook Subscription, due now, with one committed unnumbered event. */
  const activeWithEvent = async (id: string): Promise<void> => {
    expect((await putSubscription(s, { id, criteria: `Patient?gender=male&_id=${id}-p` })).statusCode).toBeLessThan(300);
    await s.db.query("UPDATE subscription_channel SET status = 'active' WHERE subscription_id = $1", [id]);
    await s.db.query('UPDATE subscription_delivery SET handshake_done = true, next_attempt_at = now(), lease_until = NULL WHERE subscription_id = $1', [id]);
    await writePatient(`${id}-p`);
    expect(Number((await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM subscription_event WHERE $1 = ANY (subscription_ids) AND position IS NULL', [id])).rows[0]!.n)).toBeGreaterThanOrEqual(1);
  };
  /** Resolves once `p` settled or some backend waits for a lock (the claim blocked). */
  const settledOrBlocked = async (p: Promise<unknown>): Promise<void> => {
    let settled = false;
    void p.then(() => (settled = true), () => (settled = true));
    for (let i = 0; i < 200 && !settled; i++) {
      const waiting = await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND (query LIKE '%subscription_number_events%' OR query LIKE '%subscription_deliver%')");
      if (waiting.rows[0]!.n > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  /** A claim started while a writer holds the channel row, then the writer's next statement. */
  async function interleave(id: string, first: string, then: string): Promise<{ claimed: Awaited<ReturnType<SubscriptionStore['claim']>> }> {
    let claim!: ReturnType<SubscriptionStore['claim']>;
    await s.db.transaction(async (q: Queryable) => {
      await q.query(first, [id]);
      claim = store.claim('lock-order', 60_000);
      await settledOrBlocked(claim);
      await q.query(then, [id]);
    });
    return { claimed: await claim };
  }

  it('a claim skips a Subscription whose DELETE holds its channel row; no deadlock, the delete commits', async () => {
    await activeWithEvent('lo-del');
    // What DELETE FROM subscription_channel does first (the row lock), then the cascade to the delivery row.
    const { claimed } = await interleave('lo-del', 'SELECT 1 FROM subscription_channel WHERE subscription_id = $1 FOR UPDATE', 'DELETE FROM subscription_channel WHERE subscription_id = $1');
    expect(claimed).toBeUndefined();
    expect((await s.db.query('SELECT 1 FROM subscription_delivery WHERE subscription_id = $1', ['lo-del'])).rows).toEqual([]);
    expect(await store.claim('lock-order', 60_000)).toBeUndefined();
  });

  it('a claim skips a Subscription being re-requested; the next claim gets the handshake', async () => {
    await activeWithEvent('lo-req');
    // What register does on a PUT with status requested: upsert the channel row, then reset the delivery.
    const { claimed } = await interleave(
      'lo-req',
      "UPDATE subscription_channel SET status = 'requested', generation = generation + 1 WHERE subscription_id = $1",
      'UPDATE subscription_delivery SET handshake_done = false, attempts = 0, next_attempt_at = now() WHERE subscription_id = $1',
    );
    expect(claimed).toBeUndefined();
    const next = await store.claim('lock-order', 60_000);
    expect(next).toMatchObject({ id: 'lo-req', status: 'requested', handshakeDone: false });
    await s.db.query('DELETE FROM subscription_channel WHERE subscription_id = $1', ['lo-req']);
  });

  it('appendIn takes no Subscription lock: it does not wait for a writer deleting them, and nothing is numbered for the deleted ones', async () => {
    for (const id of ['lo-app-a', 'lo-app-b']) expect((await putSubscription(s, { id, criteria: 'Patient?gender=other' })).statusCode).toBeLessThan(300);
    let attempts = 0;
    await s.db.transaction(async (q: Queryable) => {
      await q.query("DELETE FROM subscription_channel WHERE subscription_id = 'lo-app-a'");
      // Events in the order b, a, recorded and committed while the delete holds a's row (and then b's).
      // Counted: the repository retries a deadlock victim, which would hide a deadlock.
      await s.repository.transaction((tx) => {
        attempts++;
        return store.append(tx, [{ subscriptionId: 'lo-app-b' }, { subscriptionId: 'lo-app-a' }]);
      });
      await q.query("DELETE FROM subscription_channel WHERE subscription_id = 'lo-app-b'");
    });
    expect(attempts).toBe(1);
    for (const id of ['lo-app-a', 'lo-app-b']) expect(await store.state(id)).toBeUndefined();
    const left = await s.db.query("SELECT subscription_id FROM subscription_numbering WHERE subscription_id LIKE 'lo-app-%'");
    expect(left.rows).toEqual([]);
  });

  it('concurrent claims, deletes, re-requests and writes: no error, every event numbered once without gaps', async () => {
    const ids = ['lo-loop-0', 'lo-loop-1', 'lo-loop-2'];
    const errors: unknown[] = [];
    const catching = (p: Promise<unknown>): Promise<void> => p.then(() => undefined, (err: unknown) => void errors.push(err));
    for (let round = 0; round < 15; round++) {
      for (const id of ids) await activeWithEvent(id);
      const claims = Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 5; i++) {
          const c = await store.claim(`loop-${i}`, 60_000);
          if (c) await store.release(c.id, `loop-${i}`);
        }
      });
      await Promise.all([
        ...claims.map(catching),
        catching(s.request({ method: 'DELETE', url: '/fhir/Subscription/lo-loop-0' }).then((r) => expect(r.statusCode).toBeLessThan(300))),
        catching(putSubscription(s, { id: 'lo-loop-1', criteria: 'Patient?gender=male&_id=lo-loop-1-p', status: 'requested' }).then((r) => expect(r.statusCode).toBeLessThan(300))),
        catching(writePatient('lo-loop-2-p', round % 2 ? 'male' : 'female').then(() => writePatient('lo-loop-2-p'))),
      ]);
    }
    expect(errors).toEqual([]);
    expect((await s.db.query("SELECT 1 FROM subscription_channel WHERE subscription_id = 'lo-loop-0'")).rows).toEqual([]);
    for (const id of ['lo-loop-1', 'lo-loop-2']) {
      const events = await stored(s, id);
      expect(events.map((e) => e.eventNumber)).toEqual(events.map((_, i) => i + 1));
    }
  });
});

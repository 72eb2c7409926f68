// Numbering after commit (docs/adr/0011, addendum): a write records its notifications without any
// lock, so writes matching one Subscription no longer commit one at a time; numbers are given only to
// committed events, in commit order, without gaps; two writes of one resource (or one member) are
// numbered in the order they took its lock, even when the later one got its transaction id first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { episode, ORGS } from '../unit/coordination/builders.js';
import { expectAccepted, forMember, member, put, seed, transaction } from '../e2e/coordination/support.js';
import { lockKeyOf, queryableOf } from '../../src/storage/resource-repository.js';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import { loadMigrations, migrate } from '../../src/storage/migrate.js';
import type { WriteTx } from '../../src/fhir/repository.js';
import { openTestDatabase, postgresUrl, storageBackends } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventually } from './receiver.js';
import { putSubscription, stored } from './support.js';

const enrol = (s: TestServer, id: string, m: string) => put(s, forMember(episode(id, 'ny-mltcp', ORGS.mltcp), m));
const focus = (events: Awaited<ReturnType<typeof stored>>) => events.map((e) => `${e.eventNumber} ${e.focusId}/${e.focusVersion}`);

/** A transaction of the server's repository held open until `release` (a second connection). */
function openTransaction(s: TestServer, work: (tx: WriteTx) => Promise<void>): { ready: Promise<void>; release(commit: boolean): Promise<void> } {
  let ready!: () => void;
  let finish!: (commit: boolean) => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const decided = new Promise<boolean>((r) => (finish = r));
  const done = s.repository
    .transaction(async (tx) => {
      await work(tx);
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

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: still blocked after ${ms} ms`)), ms))]);

describe.each(storageBackends())('numbering after commit (%s)', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(backend, { SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' });
    await seed(s);
  });
  afterAll(async () => {
    await s.close();
  });

  it('numbers committed events 1..N in commit order; a rolled-back write leaves no gap; several readers agree', async () => {
    const m = await member(s, `nb-basic-${backend}`);
    expectAccepted(await putSubscription(s, { id: 'nb-basic', topic: 'enrolment', filters: [`EpisodeOfCare?patient=${m}`] }));
    for (let i = 0; i < 3; i++) expectAccepted(await enrol(s, `nb-basic-${i}`, m));
    const bad = await transaction(s, [
      { method: 'PUT', url: 'EpisodeOfCare/nb-basic-rb', resource: forMember(episode('nb-basic-rb', 'ny-mltcp', ORGS.mltcp), m) },
      { method: 'PUT', url: 'Patient/nb-basic-bad', resource: { resourceType: 'Patient', id: 'nb-basic-bad', birthDate: 'not-a-date' } },
    ]);
    expect(bad.statusCode).toBeGreaterThanOrEqual(400);
    expectAccepted(await enrol(s, 'nb-basic-3', m));
    const store = new SubscriptionStore(s.db);
    // Concurrent readers number once: the same count, the same events.
    const states = await Promise.all([store.state('nb-basic'), store.state('nb-basic'), store.state('nb-basic')]);
    expect(states.map((st) => st?.eventsCount)).toEqual([4, 4, 4]);
    expect(focus(await stored(s, 'nb-basic'))).toEqual(['1 nb-basic-0/1', '2 nb-basic-1/1', '3 nb-basic-2/1', '4 nb-basic-3/1']);
    // $status shows the count without anything else having numbered first.
    expectAccepted(await enrol(s, 'nb-basic-4', m));
    const status = await s.request({ method: 'GET', url: '/fhir/Subscription/nb-basic/$status' });
    expect(status.statusCode).toBe(200);
    expect(status.body).toContain('"valueString":"5"');
  });

  it('a migrated database keeps its numbered events and continues after them (migration 0011)', async () => {
    const db = await openTestDatabase(backend === 'pglite' ? 'pglite' : 'postgres');
    try {
      // openTestDatabase applied every migration; replay the upgrade on a fresh schema instead.
      await db.exec('DROP TABLE subscription_ws_token, subscription_numbering, subscription_event, subscription_event_cursor, subscription_delivery, subscription_channel CASCADE');
      await db.exec('DROP FUNCTION subscription_number_events(text), subscription_position_events(), subscription_notifications(text, bigint, bigint), subscription_deliver(text, integer, text, bigint, integer, boolean)');
      await db.query("DELETE FROM schema_migration WHERE name LIKE '0007%' OR name LIKE '0010%' OR name LIKE '0011%' OR name LIKE '0013%' OR name LIKE '0014%' OR name LIKE '0016%'");
      const all = await loadMigrations();
      await migrate(db, all.filter((m) => m.name < '0011'));
      await db.exec(`INSERT INTO subscription_channel (subscription_id, status, criteria_type, criteria, filters, channel_type, payload, headers, events_count)
                     VALUES ('old', 'active', 'EpisodeOfCare', '', '[]', 'websocket', 'id-only', '[]', 2);
                     INSERT INTO subscription_delivery (subscription_id) VALUES ('old');
                     INSERT INTO subscription_notification (subscription_id, event_number, focus_id) VALUES ('old', 1, 'a'), ('old', 2, 'b');`);
      await migrate(db, all);
      const store = new SubscriptionStore(db);
      // Recorded after the upgrade (the event log of migration 0014).
      await db.exec("INSERT INTO subscription_event (subscription_ids, focus_id) VALUES (ARRAY['old'], 'c')");
      expect((await store.state('old'))?.eventsCount).toBe(3);
      expect((await store.notifications('old', 1, 10)).map((e) => `${e.eventNumber} ${e.focusId}`)).toEqual(['1 a', '2 b', '3 c']);
    } finally {
      await db.close();
    }
  });
});

// Two connections at once: PostgreSQL only (PGlite is one connection, so nothing there runs concurrently).
describe.skipIf(!postgresUrl())('numbering after commit, concurrent writers (postgres)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('postgres', { SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' });
    await seed(s);
  });
  afterAll(async () => {
    await s.close();
  });

  it('a write matching a Subscription is not blocked by another open transaction that recorded events for it; numbers follow commit', async () => {
    const m = await member(s, 'nb-open');
    expectAccepted(await putSubscription(s, { id: 'nb-open', topic: 'enrolment', filters: [`EpisodeOfCare?patient=${m}`] }));
    const store = new SubscriptionStore(s.db);
    // Recorded first (an earlier seq), committed last.
    const open = openTransaction(s, (tx) => store.append(tx, [{ subscriptionId: 'nb-open', topic: 'enrolment', focusType: 'EpisodeOfCare', focusId: 'nb-open-first', focusVersion: 1, member: m }]));
    await open.ready;
    try {
      expectAccepted(await within(enrol(s, 'nb-open-second', m), 10_000, 'a write matching the same Subscription'));
      // The committed write is numbered at once; the open transaction's event has no number yet.
      expect(focus(await stored(s, 'nb-open'))).toEqual(['1 nb-open-second/1']);
    } finally {
      await open.release(true);
    }
    expect(focus(await stored(s, 'nb-open'))).toEqual(['1 nb-open-second/1', '2 nb-open-first/1']);
    // An open transaction that rolls back never consumes a number.
    const doomed = openTransaction(s, (tx) => store.append(tx, [{ subscriptionId: 'nb-open', topic: 'enrolment', focusType: 'EpisodeOfCare', focusId: 'nb-open-doomed', focusVersion: 1, member: m }]));
    await doomed.ready;
    expectAccepted(await within(enrol(s, 'nb-open-third', m), 10_000, 'a write beside a doomed one'));
    await doomed.release(false);
    expect(focus(await stored(s, 'nb-open'))).toEqual(['1 nb-open-second/1', '2 nb-open-first/1', '3 nb-open-third/1']);
  });

  it('50 concurrent writes matching one Subscription while another transaction holds events for it: none waits for it', async () => {
    const members = await Promise.all(Array.from({ length: 5 }, (_, i) => member(s, `nb-many-${i}`)));
    expectAccepted(await putSubscription(s, { id: 'nb-many', topic: 'enrolment' }));
    const store = new SubscriptionStore(s.db);
    const open = openTransaction(s, (tx) => store.append(tx, [{ subscriptionId: 'nb-many', topic: 'enrolment', focusType: 'EpisodeOfCare', focusId: 'nb-many-held', focusVersion: 1 }]));
    await open.ready;
    try {
      const results = await within(Promise.all(Array.from({ length: 50 }, (_, i) => enrol(s, `nb-many-${i % 10}`, members[i % 5]!))), 60_000, '50 writes');
      for (const r of results) expect([200, 201], r.body).toContain(r.statusCode);
      const events = await stored(s, 'nb-many');
      expect(events.map((e) => e.eventNumber)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      // Per resource, versions in order.
      const byFocus = new Map<string, number[]>();
      for (const e of events) byFocus.set(e.focusId!, [...(byFocus.get(e.focusId!) ?? []), e.focusVersion!]);
      for (const versions of byFocus.values()) expect(versions).toEqual(versions.map((_, i) => i + 1));
    } finally {
      await open.release(true);
    }
    expect((await stored(s, 'nb-many')).at(-1)).toMatchObject({ eventNumber: 51, focusId: 'nb-many-held' });
  });

  it('a write racing the deletion of a matching Subscription succeeds; nothing is numbered for it, nor for one created again with its id', async () => {
    const m = await member(s, 'nb-del');
    expectAccepted(await putSubscription(s, { id: 'nb-del', topic: 'enrolment', filters: [`EpisodeOfCare?patient=${m}`] }));
    const store = new SubscriptionStore(s.db);
    const deleting = openTransaction(s, (tx) => store.unregister(tx, 'nb-del'));
    await deleting.ready;
    let write: ReturnType<typeof enrol> | undefined;
    try {
      write = enrol(s, 'nb-del-1', m);
      await new Promise((r) => setTimeout(r, 500)); // the write reaches its insert and waits for the delete
    } finally {
      await deleting.release(true);
    }
    expectAccepted(await write);
    // Its event names the deleted Subscription (no lock was taken for it): the id is ignored.
    expect(await store.state('nb-del')).toBeUndefined();
    const left = await s.db.query<{ n: string }>("SELECT count(*) AS n FROM subscription_numbering WHERE subscription_id = 'nb-del'", []);
    expect(Number(left.rows[0]!.n)).toBe(0);
    // A new Subscription with the same id starts from its own creation (since_seq), not from that event.
    expectAccepted(await putSubscription(s, { id: 'nb-del', topic: 'enrolment', filters: [`EpisodeOfCare?patient=${m}`] }));
    expect((await store.state('nb-del'))?.eventsCount).toBe(0);
    expectAccepted(await enrol(s, 'nb-del-2', m));
    expect(focus(await stored(s, 'nb-del'))).toEqual(['1 nb-del-2/1']);
  });

  it('same resource: numbered in version order even when the later version\'s transaction got its transaction id first', async () => {
    const m1 = await member(s, 'nb-ver-1');
    const m2 = await member(s, 'nb-ver-2');
    expectAccepted(await enrol(s, 'nb-ver-x', m1));
    expectAccepted(await enrol(s, 'nb-ver-y', m2));
    expectAccepted(await putSubscription(s, { id: 'nb-ver', topic: 'enrolment' }));
    const key = lockKeyOf(`member:${m2}`);
    // Hold member m2's lock, so B (a Bundle: Y of m2, then X of m1) stops after locking Y's row (which
    // gives it a transaction id) and before writing anything of X.
    const gate = openTransaction(s, async (tx) => {
      await queryableOf(tx).query('SELECT pg_advisory_xact_lock($1::bigint)', [key]);
    });
    await gate.ready;
    let b: ReturnType<typeof transaction> | undefined;
    try {
      b = transaction(s, [
        { method: 'PUT', url: 'EpisodeOfCare/nb-ver-y', resource: forMember(episode('nb-ver-y', 'ny-mltcp', ORGS.mltcp), m2) },
        { method: 'PUT', url: 'EpisodeOfCare/nb-ver-x', resource: forMember(episode('nb-ver-x', 'ny-mltcp', ORGS.mltcp), m1) },
      ]);
      const waiter = async () =>
        (
          await s.db.query<{ xid: string | null }>(
            `SELECT a.backend_xid::text AS xid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND NOT l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
            [key],
          )
        ).rows[0];
      await eventually(async () => (await waiter()) !== undefined, 'the Bundle waiting for the member lock');
      // The premise: B already has a transaction id, older than any A gets now (ordering by xid would put B first).
      expect((await waiter())?.xid).not.toBeNull();
      // A: version 2 of X, committed while B waits.
      expectAccepted(await enrol(s, 'nb-ver-x', m1));
    } finally {
      await gate.release(true);
    }
    const bundle = await b;
    expect(bundle.statusCode, bundle.body).toBe(200);
    expect(focus(await stored(s, 'nb-ver'))).toEqual(['1 nb-ver-x/2', '2 nb-ver-y/2', '3 nb-ver-x/3']);
  });
});

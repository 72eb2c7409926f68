// One LISTEN connection per Database for all its channels (src/storage/shared-listener.ts): each caller
// still hears exactly its channel, from the moment listen() resolves, and is told once when the connection
// is lost; the connection ends when the last caller stops.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/storage/database.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import { postgresUrl } from '../support/db.js';

const url = postgresUrl();

describe.skipIf(!url)('one listening connection per Database', () => {
  const app = `t_listen_${randomBytes(4).toString('hex')}`;
  let db: Database;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await openPostgres({ connectionString: url!, applicationName: app, max: 2 });
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    await db?.close();
    await admin?.end();
  });

  /** Backends of this Database that listen: sessions whose latest statement was a LISTEN or UNLISTEN. */
  const listeningBackends = async (): Promise<number[]> =>
    (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query ~ '^(UN)?LISTEN' ORDER BY pid`, [app])).rows.map((r) => r.pid);

  const notify = (channel: string, payload: string) => admin.query('SELECT pg_notify($1, $2)', [channel, payload]);

  /** Resolves once `heard` holds `n` payloads (notifications arrive asynchronously). */
  async function waitFor(heard: readonly unknown[], n: number): Promise<void> {
    const deadline = Date.now() + 5000;
    while (heard.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  it('three channels share one backend, and each caller hears only its own channel, in order', async () => {
    const heard: Record<string, string[]> = { a: [], b: [], c: [] };
    const handles = await Promise.all(['a', 'b', 'c'].map((ch) => db.listen!(`${app}_${ch}`, (p) => heard[ch]!.push(p), () => undefined)));
    try {
      expect(await listeningBackends()).toHaveLength(1);
      for (let i = 0; i < 5; i++) for (const ch of ['a', 'b', 'c']) await notify(`${app}_${ch}`, `${ch}${i}`);
      await notify(`${app}_other`, 'nobody');
      await waitFor(heard.c!, 5);
      expect(heard).toEqual({ a: ['a0', 'a1', 'a2', 'a3', 'a4'], b: ['b0', 'b1', 'b2', 'b3', 'b4'], c: ['c0', 'c1', 'c2', 'c3', 'c4'] });
    } finally {
      for (const h of handles) await h.stop();
    }
    // The last caller stopped: the connection ended.
    const deadline = Date.now() + 5000;
    while ((await listeningBackends()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await listeningBackends()).toEqual([]);
  });

  it('two callers on one channel, started together, both hear what commits once listen resolved; one stops, the other still hears', async () => {
    const first: string[] = [];
    const second: string[] = [];
    const channel = `${app}_shared`;
    const [h1, h2] = await Promise.all([db.listen!(channel, (p) => first.push(p), () => undefined), db.listen!(channel, (p) => second.push(p), () => undefined)]);
    await notify(channel, 'both');
    await waitFor(second, 1);
    await waitFor(first, 1);
    await h1.stop();
    await notify(channel, 'second only');
    await waitFor(second, 2);
    expect(first).toEqual(['both']);
    expect(second).toEqual(['both', 'second only']);
    // notify() travels over the listening connection and is heard back.
    await h2.notify('echo');
    await waitFor(second, 3);
    expect(second).toEqual(['both', 'second only', 'echo']);
    await h2.stop();
  });

  it('a listen that joins the connection as its last caller stops gets a new connection, and hears', async () => {
    const last = await db.listen!(`${app}_r1`, () => undefined, () => undefined);
    const heard: string[] = [];
    // Joins the current connection, then that connection ends under it (nobody was registered on it).
    const joining = db.listen!(`${app}_r2`, (p) => heard.push(p), () => undefined);
    const stopped = last.stop();
    const again = await joining;
    await stopped;
    try {
      await notify(`${app}_r2`, 'r');
      await waitFor(heard, 1);
      expect(heard).toEqual(['r']);
      expect(await listeningBackends()).toHaveLength(1);
    } finally {
      await again.stop();
    }
  });

  it('the connection terminated: every caller is told once; a new listen opens a new connection that hears', async () => {
    const lost: string[] = [];
    const heard: string[] = [];
    const handles = await Promise.all(['x', 'y'].map((ch) => db.listen!(`${app}_${ch}`, (p) => heard.push(p), () => lost.push(ch))));
    const [pid] = await listeningBackends();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    const deadline = Date.now() + 5000;
    while (lost.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    expect(lost.sort()).toEqual(['x', 'y']);
    await expect(handles[0]!.notify('gone')).rejects.toThrow(/ended/);
    for (const h of handles) await h.stop(); // nothing left to stop: no error
    const again = await db.listen!(`${app}_x`, (p) => heard.push(p), () => undefined);
    try {
      const now = await listeningBackends();
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(pid);
      await notify(`${app}_x`, 'after');
      await waitFor(heard, 1);
      expect(heard).toEqual(['after']);
    } finally {
      await again.stop();
    }
  });

  it('the Subscription wake-up listens again after its connection was lost, and wakes for any Subscription once back', async () => {
    const store = new SubscriptionStore(db);
    const wakes: Array<readonly string[] | undefined> = [];
    const stop = await store.onNotified((ids) => wakes.push(ids));
    try {
      const channel = `concord_subscriptions_${db.namespace}`;
      await notify(channel, 'sub-1');
      await waitFor(wakes, 1);
      expect(wakes).toEqual([['sub-1']]);
      const [pid] = await listeningBackends();
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      // Back within the listener's one-second retry: one wake for any Subscription (what was missed).
      await waitFor(wakes, 2);
      expect(wakes).toEqual([['sub-1'], undefined]);
      await notify(channel, 'sub-2');
      await waitFor(wakes, 3);
      expect(wakes).toEqual([['sub-1'], undefined, ['sub-2']]);
    } finally {
      await stop();
    }
  });
});

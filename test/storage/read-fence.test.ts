// Read-after-write across instances (docs/adr/0016): the fence's own logic with a fake transport, then two
// repositories on one PostgreSQL schema where the reading instance hears notifications late.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Database } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { HEARTBEAT_MS, ReadFence } from '../../src/storage/read-fence.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { postgresUrl } from '../support/db.js';
import { syncsSent } from '../support/fence-syncs.js';

function fakeFence() {
  let clock = 0;
  const sent: string[] = [];
  const fence = new ReadFence(
    {
      announce: (p) => Promise.resolve(void sent.push(p)),
      sync: (p) => Promise.resolve(void sent.push(p)),
    },
    () => clock,
  );
  return { fence, sent, advance: (ms: number) => (clock += ms) };
}

afterEach(() => vi.useRealTimers());

describe('ReadFence', () => {
  it('serves hits without a sync only once it has listened a while, hears itself promptly and hears no other instance', async () => {
    vi.useFakeTimers();
    const { fence, sent, advance } = fakeFence();
    fence.connected();
    const started = fence.start(true);
    expect(fence.alone).toBe(false);
    fence.onMessage(sent[0]!); // own announcement (sent at 0) heard back
    await vi.advanceTimersByTimeAsync(1000);
    await started;
    advance(2 * HEARTBEAT_MS - 1);
    expect(fence.alone).toBe(false); // listening for less than two heartbeats
    advance(1);
    expect(fence.alone).toBe(true);
    fence.onMessage('!hb other-instance 1');
    expect(fence.alone).toBe(false); // someone else writes
    advance(30_001);
    expect(fence.alone).toBe(false); // the other one is forgotten, but the own echo is old now
    fence.onMessage(sent.filter((p) => p.startsWith('!hb')).at(-1)!);
    expect(fence.alone).toBe(false); // heard back, but that announcement was sent long ago (clock 0)
    fence.stop();
  });

  it('passes resource keys through and consumes control messages', () => {
    const { fence } = fakeFence();
    expect(fence.onMessage('Patient/1')).toBe(false);
    expect(fence.onMessage('!hb x 1')).toBe(true);
  });

  it('lets concurrent readers share one sync, and never one that was sent before they asked', async () => {
    const { fence, sent } = fakeFence();
    const syncs = () => sent.filter((p) => p.startsWith('!sync'));
    fence.connected();
    const first = fence.barrier();
    expect(syncs()).toHaveLength(1);
    // Asked while the first sync is under way: they need a later one, and share it.
    const done: string[] = [];
    const second = fence.barrier().then(() => done.push('second'));
    const third = fence.barrier().then(() => done.push('third'));
    expect(syncs()).toHaveLength(1);
    fence.onMessage(syncs()[0]!);
    await first;
    await Promise.resolve();
    expect(done).toEqual([]);
    expect(syncs()).toHaveLength(2);
    fence.onMessage(syncs()[1]!);
    await Promise.all([second, third]);
    expect(done).toEqual(['second', 'third']);
    expect(syncs()).toHaveLength(2);
  });

  it('rejects waiting readers when the listener is lost, and refuses while it is down', async () => {
    const { fence } = fakeFence();
    fence.connected();
    const waiting = fence.barrier();
    fence.lost();
    await expect(waiting).rejects.toThrow(/lost/);
    await expect(fence.barrier()).rejects.toThrow(/not connected/);
  });
});

/** A Database whose LISTEN hears every notification late (a busy instance, a slow network). */
function hearingLate(db: Database, delayMs: number): Database {
  return {
    ...db,
    listen: (channel, onMessage, onLost) => db.listen!(channel, (payload) => void setTimeout(() => onMessage(payload), delayMs), onLost),
  };
}

describe.skipIf(!postgresUrl())('read-after-write across two instances on one PostgreSQL', () => {
  const at = new Date().toISOString();
  const version = (n: number) => ({ resourceType: 'Patient', id: 'raw', versionId: n, lastUpdated: at, deleted: false, content: JSON.stringify({ resourceType: 'Patient', id: 'raw', birthDate: `2000-01-${String(n).padStart(2, '0')}` }) });

  async function twoInstances(readCacheWithPeers: 'sync' | 'database', fn: (a: ResourceRepository, b: ResourceRepository) => Promise<void>): Promise<void> {
    const url = postgresUrl()!;
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const dbA = await openPostgres({ connectionString: url, schema });
    const dbB = await openPostgres({ connectionString: url, schema });
    const a = new ResourceRepository(dbA);
    const b = new ResourceRepository(hearingLate(dbB, 40), { readCacheWithPeers });
    try {
      await migrate(dbA);
      await Promise.all([a.init(), b.init()]);
      await fn(a, b);
    } finally {
      await dbA.query(`DROP SCHEMA ${schema} CASCADE`);
      await a.close();
      await b.close();
    }
  }

  it.each(['database', 'sync'] as const)('a read on B right after an update committed on A returns the update, although B hears it late (%s)', async (mode) => {
    await twoInstances(mode, async (a, b) => {
      await a.transaction((tx) => tx.writeVersion(version(1), 'POST', {}));
      let stale = 0;
      for (let n = 2; n <= 21; n++) {
        expect((await b.read('Patient', 'raw'))?.versionId).toBe(n - 1); // B caches the current version
        await a.transaction(async (tx) => {
          await tx.lockCurrent('Patient', 'raw');
          await tx.writeVersion(version(n), 'PUT', {});
        });
        if ((await b.read('Patient', 'raw'))?.versionId !== n) stale++;
      }
      expect(stale).toBe(0);
    });
  });

  it('with another instance writing, a cached read sends no sync by default, and one with READ_CACHE_WITH_PEERS=sync', async () => {
    for (const mode of ['database', 'sync'] as const) {
      await twoInstances(mode, async (a, b) => {
        await a.transaction((tx) => tx.writeVersion(version(1), 'POST', {}));
        // B hears A's announcements within a heartbeat or two: from then on it is not alone.
        await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
        expect((await b.read('Patient', 'raw'))?.versionId).toBe(1);
        const syncs = await syncsSent(async () => {
          for (let i = 0; i < 5; i++) expect((await b.read('Patient', 'raw'))?.versionId).toBe(1);
        });
        if (mode === 'database') expect(syncs).toBe(0);
        else expect(syncs).toBeGreaterThanOrEqual(5);
      });
    }
  });

  it('with another instance writing, the per-instance caches are not proven by a sync by default: their callers query', async () => {
    for (const mode of ['database', 'sync'] as const) {
      await twoInstances(mode, async (a, b) => {
        await a.transaction((tx) => tx.writeVersion(version(1), 'POST', {}));
        await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
        const answers: boolean[] = [];
        const syncs = await syncsSent(async () => {
          for (let i = 0; i < 3; i++) answers.push(await b.heardEarlierCommits());
        });
        // 'database': unproven at once (the access and Subscription-candidate caches then read the
        // database); 'sync': proven by a sync each.
        expect(answers).toEqual(mode === 'database' ? [false, false, false] : [true, true, true]);
        expect(syncs).toBe(mode === 'database' ? 0 : 3);
      });
    }
  });
});

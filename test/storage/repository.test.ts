// Storage behaviour on every backend: real PostgreSQL (when available) and embedded PGlite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { migrate } from '../../src/storage/migrate.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, postgresUrl, storageBackends } from '../support/db.js';

describe.each(storageBackends())('resource repository on %s', (backend) => {
  let repo: ResourceRepository;
  beforeAll(async () => {
    repo = new ResourceRepository(await openTestDatabase(backend));
  });
  afterAll(async () => {
    await repo.close();
  });

  const version = (id: string, versionId: number, body?: object) => ({
    resourceType: 'Patient',
    id,
    versionId,
    lastUpdated: new Date(Date.UTC(2026, 0, versionId)).toISOString(),
    deleted: body === undefined,
    ...(body ? { content: JSON.stringify({ resourceType: 'Patient', id, ...body }) } : {}),
  });

  it('stores versions, the current state and tombstones', async () => {
    await repo.transaction((tx) => tx.writeVersion(version('a', 1, { gender: 'male' }), 'POST', { resourceType: 'Patient', id: 'a' }));
    await repo.transaction(async (tx) => {
      const cur = await tx.lockCurrent('Patient', 'a');
      expect(cur?.versionId).toBe(1);
      await tx.writeVersion(version('a', 2, { gender: 'female' }), 'PUT', { resourceType: 'Patient', id: 'a' });
    });
    await repo.transaction((tx) => tx.writeVersion(version('a', 3), 'DELETE'));
    const current = await repo.read('Patient', 'a');
    expect(current).toMatchObject({ versionId: 3, deleted: true });
    expect(current?.content).toBeUndefined();
    const v1 = await repo.readVersion('Patient', 'a', 1);
    expect(JSON.parse(v1!.content!)).toMatchObject({ gender: 'male' });
    expect(v1!.lastUpdated).toBe('2026-01-01T00:00:00.000Z');
    const page = await repo.history({ resourceType: 'Patient', id: 'a', count: 10 });
    expect(page.versions.map((v) => [v.versionId, v.method, v.deleted])).toEqual([
      [3, 'DELETE', true],
      [2, 'PUT', false],
      [1, 'POST', false],
    ]);
    expect(page.total).toBe(3);
  });

  it('leaves no trace of a transaction that fails after writing', async () => {
    await expect(
      repo.transaction(async (tx) => {
        await tx.writeVersion(version('b', 1, {}), 'POST', { resourceType: 'Patient', id: 'b' });
        throw new Error('a later check failed');
      }),
    ).rejects.toThrow('a later check failed');
    expect(await repo.read('Patient', 'b')).toBeUndefined();
    expect(await repo.readVersion('Patient', 'b', 1)).toBeUndefined();
    expect((await repo.history({ resourceType: 'Patient', id: 'b', count: 10 })).total).toBe(0);
  });

  it('refuses to write a version that does not follow the current one', async () => {
    await repo.transaction((tx) => tx.writeVersion(version('c', 1, {}), 'POST', { resourceType: 'Patient', id: 'c' }));
    await expect(repo.transaction((tx) => tx.writeVersion(version('c', 3, {}), 'PUT', { resourceType: 'Patient', id: 'c' }))).rejects.toThrow();
    expect((await repo.read('Patient', 'c'))?.versionId).toBe(1);
  });

  it('pages history with a cursor that ignores later writes', async () => {
    for (let i = 1; i <= 4; i++) await repo.transaction((tx) => tx.writeVersion({ ...version(`h${i}`, 1, {}), resourceType: 'Patient' }, 'POST', {}));
    const first = await repo.history({ resourceType: 'Patient', count: 2 });
    await repo.transaction((tx) => tx.writeVersion(version('h5', 1, {}), 'POST', {}));
    const second = await repo.history({ resourceType: 'Patient', count: 2, before: first.next! });
    expect(first.versions.map((v) => v.id)).toEqual(['h4', 'h3']);
    expect(second.versions.map((v) => v.id)).toEqual(['h2', 'h1']);
  });
});

describe.each(storageBackends())('read-your-writes on %s (read cache coherence)', (backend) => {
  let repo: ResourceRepository;
  beforeAll(async () => {
    repo = new ResourceRepository(await openTestDatabase(backend), { readCacheEntries: 2 });
    await repo.init();
  });
  afterAll(async () => {
    await repo.close();
  });

  const v = (id: string, versionId: number, gender: string) => ({
    resourceType: 'Patient',
    id,
    versionId,
    lastUpdated: new Date().toISOString(),
    deleted: false,
    content: JSON.stringify({ resourceType: 'Patient', id, gender }),
  });

  it('serves the committed version after every write and ignores rolled-back ones', async () => {
    await repo.transaction((tx) => tx.writeVersion(v('rc', 1, 'male'), 'POST', {}));
    expect((await repo.read('Patient', 'rc'))?.versionId).toBe(1); // now cached
    await repo.transaction(async (tx) => {
      await tx.lockCurrent('Patient', 'rc');
      await tx.writeVersion(v('rc', 2, 'female'), 'PUT', {});
    });
    expect((await repo.read('Patient', 'rc'))?.versionId).toBe(2);
    await expect(
      repo.transaction(async (tx) => {
        await tx.lockCurrent('Patient', 'rc');
        await tx.writeVersion(v('rc', 3, 'other'), 'PUT', {});
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const after = await repo.read('Patient', 'rc');
    expect(after?.versionId).toBe(2);
    expect(JSON.parse(after!.content!)).toMatchObject({ gender: 'female' });
    // Evictions past the bound never serve a wrong version.
    for (const id of ['x1', 'x2', 'x3']) await repo.transaction((tx) => tx.writeVersion(v(id, 1, 'male'), 'POST', {}));
    for (const id of ['x1', 'x2', 'x3', 'rc']) expect((await repo.read('Patient', id))?.id).toBe(id);
  });
});

// Only PostgreSQL has other instances; PGlite is single-process (covered above).
describe.skipIf(!postgresUrl())('read cache across instances (PostgreSQL LISTEN/NOTIFY)', () => {
  it("drops another instance's cached version when this one's write commits", async () => {
    const url = postgresUrl()!;
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const dbA = await openPostgres({ connectionString: url, schema });
    const a = new ResourceRepository(dbA);
    const b = new ResourceRepository(await openPostgres({ connectionString: url, schema }));
    try {
      await migrate(dbA);
      await Promise.all([a.init(), b.init()]);
      const content = (gender: string) => JSON.stringify({ resourceType: 'Patient', id: 'shared', gender });
      const at = new Date().toISOString();
      await a.transaction((tx) => tx.writeVersion({ resourceType: 'Patient', id: 'shared', versionId: 1, lastUpdated: at, deleted: false, content: content('male') }, 'POST', {}));
      expect((await b.read('Patient', 'shared'))?.versionId).toBe(1); // b caches version 1
      await a.transaction(async (tx) => {
        await tx.lockCurrent('Patient', 'shared');
        await tx.writeVersion({ resourceType: 'Patient', id: 'shared', versionId: 2, lastUpdated: at, deleted: false, content: content('female') }, 'PUT', {});
      });
      // The notification arrives asynchronously after commit; b must converge within a short, bounded time.
      let seen: number | undefined;
      for (let i = 0; i < 100 && seen !== 2; i++) {
        seen = (await b.read('Patient', 'shared'))?.versionId;
        if (seen !== 2) await new Promise((r) => setTimeout(r, 10));
      }
      expect(seen).toBe(2);
    } finally {
      await dbA.query(`DROP SCHEMA ${schema} CASCADE`);
      await a.close();
      await b.close();
    }
  });
});

// Repository.snapshot on every backend: every read inside sees the store as it was at the snapshot's first
// read, whatever commits meanwhile (PostgreSQL: REPEATABLE READ beside the writer; PGlite: the writer waits
// for the snapshot), it writes nothing, and it gives its connection back however fn ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSearchRequest } from '../../src/fhir/search/index.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(storageBackends())('read snapshots on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  beforeAll(async () => {
    db = await openTestDatabase(backend, { max: 3 });
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
  });
  afterAll(async () => {
    await repo.close();
  });

  const write = (id: string, versionId: number, gender: string): Promise<void> =>
    repo.transaction(async (tx) => {
      await tx.lockCurrent('Patient', id);
      const resource = { resourceType: 'Patient', id, gender, meta: { versionId: String(versionId) } };
      await tx.writeVersion({ resourceType: 'Patient', id, versionId, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(resource) }, versionId === 1 ? 'POST' : 'PUT', resource);
    });
  const females = () => parseSearchRequest('Patient', new URLSearchParams({ gender: 'female', _count: '100' }), { strict: true, maxCount: 100 }).request;

  it('reads one state throughout while a write commits between its reads', async () => {
    await write('snap-a', 1, 'female');
    await write('snap-b', 1, 'female');
    let writing: Promise<void> | undefined;
    const seen = await repo.snapshot(async (reader) => {
      const first = (await reader.read('Patient', 'snap-a'))!.versionId;
      // Both patients change in one transaction, between the snapshot's reads.
      writing = repo.transaction(async (tx) => {
        for (const id of ['snap-a', 'snap-b']) {
          await tx.lockCurrent('Patient', id);
          const resource = { resourceType: 'Patient', id, gender: 'male' };
          await tx.writeVersion({ resourceType: 'Patient', id, versionId: 2, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(resource) }, 'PUT', resource);
        }
      });
      await Promise.race([writing, sleep(backend === 'pglite' ? 500 : 30_000)]);
      const second = (await reader.read('Patient', 'snap-b'))!.versionId;
      const search = (await reader.search(females())).matches.map((m) => m.id).filter((id) => id.startsWith('snap-')).sort();
      return { first, second, search };
    });
    await writing;
    expect(seen).toEqual({ first: 1, second: 1, search: ['snap-a', 'snap-b'] });
    expect((await repo.read('Patient', 'snap-b'))!.versionId).toBe(2);
    expect((await repo.search(females())).matches.filter((m) => m.id.startsWith('snap-'))).toEqual([]);
  });

  it('writes nothing and returns its connection when fn fails', async () => {
    await expect(repo.snapshot((reader) => reader.read('Patient', 'snap-a').then(() => Promise.reject(new Error('fn failed'))))).rejects.toThrow('fn failed');
    // Read-only: the database refuses a write in a snapshot (SQLSTATE 25006).
    await expect(db.snapshot((q) => q.query("UPDATE resource SET content = content WHERE id = 'snap-a'"))).rejects.toMatchObject({ code: '25006' });
    // The pool (three connections) is not exhausted by the snapshots that ended in errors.
    for (let i = 0; i < 5; i++) expect((await repo.snapshot((reader) => reader.read('Patient', 'snap-a')))?.versionId).toBe(2);
  });
});

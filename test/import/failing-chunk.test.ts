// A chunk of a batch that fails in PostgreSQL (its statement was sent without waiting, later chunks and
// the journal behind it) rolls back the whole batch with its own error, not a consequential "transaction
// is aborted", and leaves the connection clean: the next import on the same connections works (a pool of two, the migrations need both).
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { importFiles } from '../../src/import/importer.js';
import type { BulkWriteTx, ImportStore } from '../../src/import/store.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { fixtureDir, type FixtureDir } from './fixtures.js';

describe.each(storageBackends())('a failing import chunk (%s)', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  let files: FixtureDir;

  beforeAll(async () => {
    loadDefinitions();
    db = await openTestDatabase(backend, { max: 2 });
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
    files = await fixtureDir();
  });
  afterAll(async () => {
    await repo.close();
    await files.remove();
  });

  const count = async (like: string): Promise<number> =>
    Number((await db.query<{ n: string | number }>('SELECT count(*) AS n FROM resource WHERE id LIKE $1', [like])).rows[0]!.n);

  it('rolls back the batch with the chunk’s own error; the pool’s connections are clean afterwards', async () => {
    const resources: Resource[] = Array.from({ length: 10 }, (_, i) => ({ resourceType: 'Patient', id: `chunk-${backend}-${i}`, gender: 'female' }));
    const [path] = await files.export(resources, `-chunk-${backend}`);
    const real = repo.importStore();
    let chunks = 0;
    // The second chunk claims to succeed a version that is not the current one (a stale version).
    const store: ImportStore = {
      ...real,
      transaction: (fn) =>
        real.transaction((tx) => {
          const observed = Object.create(tx) as BulkWriteTx;
          observed.writeVersions = (versions) => {
            if (++chunks !== 2) return tx.writeVersions(versions);
            const [first, ...rest] = versions;
            return tx.writeVersions([{ ...first!, version: { ...first!.version, versionId: 7 } }, ...rest]);
          };
          return fn(observed);
        }),
    };
    await expect(importFiles([path!], { store, rules: false, baseUrls: [], maxJsonDepth: 64, batchSize: 10, writeChunk: 3 })).rejects.toThrow(/successors of the current row/);
    expect(chunks).toBe(4);
    // Both connections answer plainly (no aborted transaction, no pipeline left on).
    expect(await Promise.all([count(`chunk-${backend}-%`), count(`chunk-${backend}-%`), count(`chunk-${backend}-%`)])).toEqual([0, 0, 0]);
    const summary = await importFiles([path!], { store: real, rules: false, baseUrls: [], maxJsonDepth: 64, batchSize: 10, writeChunk: 3 });
    expect(summary).toMatchObject({ written: 10, rejected: 0 });
    expect(await count(`chunk-${backend}-%`)).toBe(10);
  });
});

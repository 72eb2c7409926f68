// A batch's write statements are sent without waiting for them (docs/adr/0014, addendum "Import speed"):
// while PostgreSQL writes one chunk of accepted versions, the importer judges the next lines and sends
// their chunk. Shown by holding the history table locked from another transaction: every chunk of the
// batch is sent while none of them can finish, and nothing is visible before the batch commits.
// PostgreSQL only (the lock is held by a second connection).
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { importFiles } from '../../src/import/importer.js';
import type { BulkWriteTx, ImportStore } from '../../src/import/store.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, postgresUrl } from '../support/db.js';
import { fixtureDir, type FixtureDir } from './fixtures.js';

describe.runIf(postgresUrl())('import write statements sent without waiting (postgres)', () => {
  let db: Database;
  let repo: ResourceRepository;
  let files: FixtureDir;

  beforeAll(async () => {
    loadDefinitions();
    db = await openTestDatabase('postgres');
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
    files = await fixtureDir();
  });
  afterAll(async () => {
    await repo.close();
    await files.remove();
  });

  const count = async (sql: string): Promise<number> => Number((await db.query<{ n: string | number }>(sql)).rows[0]!.n);

  it('sends every chunk of a batch while the first cannot finish, and commits them together', async () => {
    const resources: Resource[] = Array.from({ length: 10 }, (_, i) => ({ resourceType: 'Patient', id: `unwaited-${i}`, gender: 'female' }));
    const [path] = await files.export(resources, '-unwaited');
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    // Writers of resource_version wait for this transaction; readers do not.
    const holder = db.transaction(async (q) => {
      await q.exec('LOCK TABLE resource_version IN EXCLUSIVE MODE');
      locked();
      await released;
    });
    await isLocked;

    const real = repo.importStore();
    const sent: number[] = [];
    const store: ImportStore = {
      ...real,
      transaction: (fn) =>
        real.transaction((tx) => {
          const observed = Object.create(tx) as BulkWriteTx;
          observed.writeVersions = async (versions) => {
            await tx.writeVersions(versions);
            sent.push(versions.length);
          };
          return fn(observed);
        }),
    };
    const run = importFiles([path!], { store, rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 10, writeChunk: 3 });
    try {
      await vi.waitFor(() => expect(sent).toEqual([3, 3, 3, 1]), { timeout: 20_000, interval: 50 });
      expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'unwaited-%'")).toBe(0);
    } finally {
      release();
      await holder;
    }
    const summary = await run;
    expect(summary).toMatchObject({ written: 10, rejected: 0 });
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'unwaited-%'")).toBe(10);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'unwaited-%'")).toBe(10);
    expect(await count("SELECT count(*) AS n FROM member_access m JOIN resource r USING (rid) WHERE r.id LIKE 'unwaited-%'")).toBe(0);
  });
});

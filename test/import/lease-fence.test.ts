// A runner that stalls past its lease (a long GC pause, a frozen VM) while another instance takes the job
// over must not commit another batch: every batch is fenced on the lease in its own transaction
// (docs/adr/0019). Two runners on one database, the first frozen just before its third batch until its
// lease expired and the second has claimed the job and read the journal; then the first wakes and tries
// to commit. No batch of it commits after the takeover, no line is stored twice, and the journal counts
// every line exactly once. On every backend.
import { copyFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { ImportJobRunner } from '../../src/import/job-runner.js';
import type { ImportJobStore } from '../../src/import/jobs.js';
import type { ImportStore } from '../../src/import/store.js';
import type { FileDownloader } from '../../src/net/fetch-to-file.js';
import type { Database } from '../../src/storage/database.js';
import { SqlImportJobStore } from '../../src/storage/import-job-store.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { fixtureDir, type FixtureDir } from './fixtures.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// Long enough that A cannot lose it before it freezes, even on a loaded machine (at 400 ms a late
// heartbeat lost it during the first batches, A never froze and the test waited out its timeout).
const LEASE_MS = 2000;

/** A switch that holds every call made through it while frozen, as a paused process would. */
class Freeze {
  private release: (() => void) | undefined;
  private gate: Promise<void> | undefined;
  private reached: (() => void) | undefined;
  /** Resolves once the first call arrived frozen. */
  readonly hit: Promise<void> = new Promise((r) => (this.reached = r));

  freeze(): void {
    this.gate = new Promise((r) => (this.release = r));
  }

  thaw(): void {
    this.release?.();
    this.gate = undefined;
  }

  async pass(): Promise<void> {
    if (!this.gate) return;
    this.reached?.();
    await this.gate;
  }
}

/** The import store of one runner: freezes at its `freezeAt`-th batch and logs each batch that committed. */
function runnerStore(real: ImportStore, name: string, freezeAt: number, freeze: Freeze, log: string[]): ImportStore {
  let calls = 0;
  return {
    ...real,
    transaction: async (fn) => {
      if (++calls === freezeAt) freeze.freeze();
      await freeze.pass();
      const out = await real.transaction(fn);
      log.push(name);
      return out;
    },
  };
}

/** The runner's job store, frozen with it: its heartbeats and progress reports reach nothing while it is. */
function frozenJobs(real: ImportJobStore, freeze: Freeze): ImportJobStore {
  return {
    create: (job) => real.create(job),
    get: (id) => real.get(id),
    claim: (owner, leaseMs) => real.claim(owner, leaseMs),
    progress: async (id, owner, leaseMs, p) => {
      await freeze.pass();
      return real.progress(id, owner, leaseMs, p);
    },
    holdsLease: (tx, lease) => real.holdsLease(tx, lease),
    finish: async (id, owner, result) => {
      await freeze.pass();
      return real.finish(id, owner, result);
    },
    requestCancel: (id) => real.requestCancel(id),
  };
}

describe.each(storageBackends())('$import lease fence on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  let jobs: SqlImportJobStore;
  let files: FixtureDir;

  beforeAll(async () => {
    loadDefinitions();
    db = await openTestDatabase(backend);
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
    jobs = new SqlImportJobStore(db);
    files = await fixtureDir();
  });
  afterAll(async () => {
    await repo.close();
    await files.remove();
  });

  const count = async (sql: string): Promise<number> => Number((await db.query<{ n: string | number }>(sql)).rows[0]!.n);

  it('rolls back the next batch of a runner that lost its lease; the runner that took over imports every line once', async () => {
    const patients = Array.from({ length: 20 }, (_, i) => ({ resourceType: 'Patient', id: `fence-${i}`, gender: 'female', birthDate: '1950-01-01' }));
    const source = await files.file('fence.ndjson', patients);
    const downloader = { download: async (_url: string, path: string) => void (await copyFile(source, path)) } as unknown as FileDownloader;
    await jobs.create({ id: 'fence', requestUrl: 'http://concord.test/fhir/$import', inputs: [{ type: 'Patient', url: 'https://files.example/fence.ndjson' }] });
    const log: string[] = [];
    const common = { downloader, rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 2, leaseMs: LEASE_MS, pollMs: 60_000 };

    // A claims the job and freezes just before its third batch (two batches, four lines, committed).
    const freezeA = new Freeze();
    const a = new ImportJobRunner({ ...common, instanceId: 'A', jobs: frozenJobs(jobs, freezeA), store: runnerStore(repo.importStore(), 'A', 3, freezeA, log) });
    const jobA = (await jobs.claim('A', LEASE_MS))!;
    expect(jobA).toMatchObject({ id: 'fence', attempts: 1 });
    a.start();
    const runA = a.run(jobA);
    await freezeA.hit;
    expect(log).toEqual(['A', 'A']);

    // A's lease runs out; B claims the job, reads the journal and freezes before its first batch.
    await sleep(LEASE_MS + 200);
    const freezeB = new Freeze();
    const b = new ImportJobRunner({ ...common, instanceId: 'B', jobs, leaseMs: 60_000, store: runnerStore(repo.importStore(), 'B', 1, freezeB, log) });
    const jobB = (await jobs.claim('B', 60_000))!;
    expect(jobB).toMatchObject({ id: 'fence', attempts: 2 });
    log.push('B claimed');
    b.start();
    const runB = b.run(jobB);
    await freezeB.hit;

    // A wakes and tries its third batch: the fence rolls it back and A stops without finishing the job.
    freezeA.thaw();
    await runA;
    await a.stop();
    expect(log).toEqual(['A', 'A', 'B claimed']);
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'fence-%'")).toBe(4);

    freezeB.thaw();
    await runB;
    await b.stop();
    expect(log.slice(0, 3)).toEqual(['A', 'A', 'B claimed']);
    expect(log.slice(3).every((name) => name === 'B')).toBe(true);

    expect(await jobs.get('fence')).toMatchObject({ status: 'completed', written: 20, unchanged: 0, rejected: 0 });
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'fence-%' AND version_id = 1")).toBe(20);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'fence-%'")).toBe(20);
    const journal = (await db.query<{ committed_lines: number; written: number; unchanged: number; rejected: number; done: boolean }>(
      'SELECT committed_lines, written, unchanged, rejected, completed_at IS NOT NULL AS done FROM import_file',
    )).rows;
    expect(journal).toEqual([{ committed_lines: 20, written: 20, unchanged: 0, rejected: 0, done: true }]);
  });
});

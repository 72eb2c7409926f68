// The $import job table on every backend: a job is claimed by one instance at a time, concurrent claims
// never take the same job, an expired lease lets another instance take it over (and the old owner then
// learns it lost it), a batch is fenced on the lease it runs under, and cancellation closes a job nobody
// runs at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportJobStore, NewJob } from '../../src/import/jobs.js';
import type { Database } from '../../src/storage/database.js';
import { SqlImportJobStore } from '../../src/storage/import-job-store.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const job = (id: string): NewJob => ({ id, requestUrl: 'http://concord.test/fhir/$import', inputs: [{ type: 'Patient', url: 'https://files.example/Patient.ndjson' }] });

describe.each(storageBackends())('import jobs on %s', (backend) => {
  let db: Database;
  let jobs: ImportJobStore;
  let repo: ResourceRepository;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    jobs = new SqlImportJobStore(db);
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
  });
  afterAll(async () => {
    await db.close();
  });
  /** Claims until nothing is left, so each test starts from its own jobs only. */
  const drain = async (): Promise<void> => {
    while (await jobs.claim('drain', 60_000)) {
      // claimed and left running under a long lease
    }
  };

  it('stores a kick-off as a queued job with one zeroed file per input', async () => {
    await jobs.create({ ...job('j-new'), clientId: 'admin', inputSource: 'https://files.example' });
    const stored = await jobs.get('j-new');
    expect(stored).toMatchObject({ id: 'j-new', status: 'queued', clientId: 'admin', inputSource: 'https://files.example', attempts: 0, cancelRequested: false });
    expect(stored?.files).toEqual([{ type: 'Patient', url: 'https://files.example/Patient.ndjson', written: 0, unchanged: 0, rejected: 0, lines: 0 }]);
    expect(await jobs.get('missing')).toBeUndefined();
  });

  it('gives a job to exactly one of many concurrent claims', async () => {
    await drain();
    await jobs.create(job('j-race'));
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => jobs.claim(`instance-${i}`, 60_000)));
    const won = claims.filter((c) => c !== undefined);
    expect(won).toHaveLength(1);
    expect(won[0]).toMatchObject({ id: 'j-race', status: 'running', attempts: 1 });
  });

  it('lets another instance take a job over once its lease expired; the old owner then holds nothing', async () => {
    await drain();
    await jobs.create(job('j-lease'));
    expect((await jobs.claim('a', 150))?.id).toBe('j-lease');
    expect(await jobs.claim('b', 60_000)).toBeUndefined();
    expect(await jobs.progress('j-lease', 'a', 150, { bytesDone: 10, bytesTotal: 100, written: 1, unchanged: 0, rejected: 0 })).toEqual({ held: true, cancelRequested: false });
    await sleep(300);
    const taken = await jobs.claim('b', 60_000);
    expect(taken).toMatchObject({ id: 'j-lease', attempts: 2, bytesDone: 10, written: 1 });
    expect((await jobs.progress('j-lease', 'a', 150)).held).toBe(false);
    expect(await jobs.finish('j-lease', 'a', { status: 'cancelled' })).toBe(false);
    expect(await jobs.finish('j-lease', 'b', { status: 'completed', files: [], progress: { bytesDone: 100, bytesTotal: 100, written: 3, unchanged: 0, rejected: 1 } })).toBe(true);
    expect(await jobs.get('j-lease')).toMatchObject({ status: 'completed', written: 3, rejected: 1, bytesDone: 100 });
  });

  it('fences a batch on the current, unexpired claim; no claim takes the job before a fenced batch ends', async () => {
    await drain();
    await jobs.create(job('j-fence'));
    const claimed = (await jobs.claim('a', 400))!;
    const lease = { id: 'j-fence', owner: 'a', attempt: claimed.attempts };
    const holds = (l: typeof lease): Promise<boolean> => repo.transaction((tx) => jobs.holdsLease(tx, l));
    expect(await holds(lease)).toBe(true);
    expect(await holds({ ...lease, attempt: lease.attempt - 1 })).toBe(false);
    expect(await holds({ ...lease, owner: 'b' })).toBe(false);
    if (backend === 'postgres') {
      // The lease expires while a fenced batch is still open: a claim then skips the job until it ended.
      await repo.transaction(async (tx) => {
        expect(await jobs.holdsLease(tx, lease)).toBe(true);
        await sleep(500);
        expect(await jobs.claim('b', 60_000)).toBeUndefined();
      });
    } else {
      await sleep(500);
    }
    // Expired: no batch commits under it any more, even before anyone else claimed the job.
    expect(await holds(lease)).toBe(false);
    const taken = (await jobs.claim('b', 60_000))!;
    expect(taken).toMatchObject({ id: 'j-fence', attempts: lease.attempt + 1 });
    expect(await holds(lease)).toBe(false);
    expect(await holds({ id: 'j-fence', owner: 'b', attempt: taken.attempts })).toBe(true);
  });

  it('cancels a queued job at once and a running one through its runner', async () => {
    await drain();
    await jobs.create(job('j-cancel-queued'));
    expect(await jobs.requestCancel('j-cancel-queued')).toBe('accepted');
    expect(await jobs.get('j-cancel-queued')).toMatchObject({ status: 'cancelled', cancelRequested: true });
    expect(await jobs.requestCancel('j-cancel-queued')).toBe('unknown');
    expect(await jobs.claim('x', 60_000)).toBeUndefined();

    await jobs.create(job('j-cancel-running'));
    expect((await jobs.claim('runner', 60_000))?.id).toBe('j-cancel-running');
    expect(await jobs.requestCancel('j-cancel-running')).toBe('accepted');
    expect((await jobs.get('j-cancel-running'))?.status).toBe('running');
    expect(await jobs.progress('j-cancel-running', 'runner', 60_000)).toEqual({ held: true, cancelRequested: true });
    expect(await jobs.finish('j-cancel-running', 'runner', { status: 'cancelled' })).toBe(true);
    expect((await jobs.get('j-cancel-running'))?.status).toBe('cancelled');
  });

  it('closes a cancelled job whose runner died once its lease expired', async () => {
    await drain();
    await jobs.create(job('j-cancel-dead'));
    expect((await jobs.claim('dead', 100))?.id).toBe('j-cancel-dead');
    expect(await jobs.requestCancel('j-cancel-dead')).toBe('accepted');
    await sleep(200);
    expect(await jobs.claim('alive', 60_000)).toBeUndefined();
    expect((await jobs.get('j-cancel-dead'))?.status).toBe('cancelled');
  });

  it('records a failure with its status and OperationOutcome', async () => {
    await drain();
    await jobs.create(job('j-fail'));
    await jobs.claim('r', 60_000);
    const outcome = { resourceType: 'OperationOutcome' as const, issue: [{ severity: 'error' as const, code: 'forbidden' as const, diagnostics: 'refused' }] };
    expect(await jobs.finish('j-fail', 'r', { status: 'failed', failure: { status: 400, outcome } })).toBe(true);
    expect(await jobs.get('j-fail')).toMatchObject({ status: 'failed', failure: { status: 400, outcome } });
  });
});

// $import on the embedded store: the same kick-off, job run and completion as on PostgreSQL (one process,
// so the lease only matters after a restart), and a restart resumes a job left running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDownloadConnector } from '../../src/net/fetch-to-file.js';
import { ImportJobRunner } from '../../src/import/job-runner.js';
import { FileDownloader } from '../../src/net/fetch-to-file.js';
import { OutboundGuard } from '../../src/net/outbound-guard.js';
import { SqlImportJobStore } from '../../src/storage/import-job-store.js';
import { openTestDatabase } from '../support/db.js';
import type { TestServer } from '../support/server.js';
import { startSubscriptionServer } from '../subscriptions/support.js';
import { FileServer } from './file-server.js';
import { prepareInThread, type BatchPreparer } from '../../src/import/importer.js';
import { importParameters, kickoff, poll, statusPath } from './operation-support.js';

describe('$import on PGlite', () => {
  const files = new FileServer();
  let s: TestServer;
  beforeAll(async () => {
    await files.start();
    s = await startSubscriptionServer(
      { IMPORT_ALLOWED_HOSTS: files.host, IMPORT_POLL_MS: '100', IMPORT_WORKERS: '0', IMPORT_LEASE_MS: '300' },
      { importBatchSize: 3, importConnector: nodeDownloadConnector },
      await openTestDatabase('pglite'),
    );
  });
  afterAll(async () => {
    await s.close();
    await files.stop();
  });

  it('runs a job to completion', async () => {
    const patients = Array.from({ length: 10 }, (_, i) => ({ resourceType: 'Patient', id: `pgl-${i}`, gender: 'male' }));
    const { res } = await poll(s, statusPath(await kickoff(s, importParameters([{ type: 'Patient', url: files.serve('/pgl/Patient.ndjson', patients) }]))));
    expect(res.statusCode, res.body).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ output: [{ type: 'Patient', count: 10 }], error: [] });
    expect((await s.request({ method: 'GET', url: '/fhir/Patient/pgl-9' })).statusCode).toBe(200);
  });

  it('resumes a job whose runner stopped mid-way once its lease expired', async () => {
    const patients = Array.from({ length: 200 }, (_, i) => ({ resourceType: 'Patient', id: `pgl-resume-${i}`, gender: 'female' }));
    const url = files.serve('/pgl/resume.ndjson', patients);
    // Stop this instance's runner first: the job is then run by a runner of our own that "crashes".
    await s.importRunner!.stop();
    const path = statusPath(await kickoff(s, importParameters([{ type: 'Patient', url }])));
    const jobs = new SqlImportJobStore(s.db);
    const downloader = new FileDownloader(new OutboundGuard({ allowedHosts: [files.host] }), { maxBytes: 1 << 20, timeoutMs: 5000, connector: nodeDownloadConnector });
    // The "crash": the runner stops right after its third batch committed.
    const real = s.repository.importStore();
    let batches = 0;
    const crashing: ImportJobRunner = new ImportJobRunner({
      jobs,
      store: { ...real, transaction: async (fn) => {
        const out = await real.transaction(fn);
        if (++batches === 3) void crashing.stop();
        return out;
      } },
      downloader, rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 3, leaseMs: 300, pollMs: 60_000,
    });
    const job = (await jobs.claim(crashing.instanceId, 300))!;
    crashing.start();
    await crashing.run(job);
    const stored = async (): Promise<number> => Number((await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM resource WHERE id LIKE 'pgl-resume-%'")).rows[0]!.n);
    expect((await jobs.get(job.id))?.status).toBe('running');
    expect(await stored()).toBe(9);
    const restarted = new ImportJobRunner({ jobs, store: s.repository.importStore(), downloader, rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 3, leaseMs: 300, pollMs: 50 });
    restarted.start();
    try {
      const { res } = await poll(s, path);
      expect(res.statusCode, res.body).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ output: [{ type: 'Patient', count: 200, written: 200 }] });
    } finally {
      await restarted.stop();
    }
    expect(Number((await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM resource_version WHERE id LIKE 'pgl-resume-%'")).rows[0]!.n)).toBe(200);
  });

  it('leaves no unhandled rejection when a job stops while its worker pool prepares the next batch', async () => {
    const patients = Array.from({ length: 60 }, (_, i) => ({ resourceType: 'Patient', id: `pgl-pool-${i}`, gender: 'other' }));
    const url = files.serve('/pgl/pool.ndjson', patients);
    await s.importRunner!.stop();
    const path = statusPath(await kickoff(s, importParameters([{ type: 'Patient', url }])));
    const jobs = new SqlImportJobStore(s.db);
    const downloader = new FileDownloader(new OutboundGuard({ allowedHosts: [files.host] }), { maxBytes: 1 << 20, timeoutMs: 5000, connector: nodeDownloadConnector });
    // A pool whose close fails the preparations in flight, as piscina's destroy does.
    let closed = 0;
    const openPreparer = (): { prepare: BatchPreparer; close(): Promise<void> } => {
      const inFlight = new Set<() => void>();
      return {
        prepare: (lines, options) =>
          new Promise((resolve, reject) => {
            const fail = (): void => reject(new Error('pool destroyed'));
            inFlight.add(fail);
            setTimeout(() => {
              inFlight.delete(fail);
              resolve(prepareInThread(lines, options));
            }, 150);
          }),
        close: () => {
          closed++;
          for (const fail of inFlight) fail();
          return Promise.resolve();
        },
      };
    };
    const real = s.repository.importStore();
    let batches = 0;
    const runner: ImportJobRunner = new ImportJobRunner({
      jobs,
      store: { ...real, transaction: async (fn) => {
        const out = await real.transaction(fn);
        if (++batches === 2) await jobs.requestCancel(path.split('/').pop()!);
        return out;
      } },
      // A lease of 1.5 s (heartbeat every 500 ms) is not lost under load, as 100 ms was; the 20 batches'
      // 150 ms preparations outlast the heartbeat that sees the cancellation.
      downloader, rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 3, leaseMs: 1500, pollMs: 60_000, openPreparer,
    });
    const job = (await jobs.claim(runner.instanceId, 1500))!;
    runner.start();
    await runner.run(job);
    await runner.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(1);
    expect((await jobs.get(job.id))?.status).toBe('cancelled');
  });
});

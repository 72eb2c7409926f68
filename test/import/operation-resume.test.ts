// $import jobs survive their instance: instance A dies (its runner stops between two batches without
// finishing, as a crash leaves the job: running, under a lease nobody renews, with some batches
// committed), and instance B, started later on the same database, takes the job over once the lease
// expired and completes it from the journal: every line stored exactly once. And while A's lease holds,
// B does not touch the job (one job runs on one instance). PostgreSQL only (two instances, one schema).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDownloadConnector } from '../../src/net/fetch-to-file.js';
import { migrate } from '../../src/storage/migrate.js';
import { openPostgres } from '../../src/storage/postgres.js';
import type { Database } from '../../src/storage/database.js';
import { postgresUrl } from '../support/db.js';
import type { TestServer } from '../support/server.js';
import { startSubscriptionServer } from '../subscriptions/support.js';
import { FileServer } from './file-server.js';
import { importParameters, kickoff, poll, statusPath } from './operation-support.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(postgresUrl())('$import resumes after a crash on another instance', () => {
  const files = new FileServer();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const opened: Database[] = [];
  const servers: TestServer[] = [];
  const open = async (): Promise<Database> => {
    const db = await openPostgres({ connectionString: postgresUrl()!, schema, max: 10, acquireTimeoutMs: 60_000 });
    opened.push(db);
    return db;
  };
  const start = async (db: Database): Promise<TestServer> => {
    const s = await startSubscriptionServer(
      { IMPORT_ALLOWED_HOSTS: files.host, IMPORT_POLL_MS: '100', IMPORT_WORKERS: '0', IMPORT_LEASE_MS: '1500' },
      { importBatchSize: 2, importConnector: nodeDownloadConnector },
      db,
    );
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    await files.start();
    await migrate(await open());
  });
  afterAll(async () => {
    for (const s of servers.reverse()) await s.close().catch(() => undefined);
    const cleanup = await openPostgres({ connectionString: postgresUrl()!, schema });
    await cleanup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await cleanup.close();
    await files.stop();
  });

  it('continues the job from its last committed batch: no line stored twice, none lost', async () => {
    const patients = Array.from({ length: 100 }, (_, i) => ({ resourceType: 'Patient', id: `resume-${i}`, gender: i % 2 ? 'female' : 'male', birthDate: '1950-01-01' }));
    const url = files.serve('/Patient.ndjson', patients);
    const a = await start(opened[0]!);
    const path = statusPath(await kickoff(a, importParameters([{ type: 'Patient', url }])));
    const id = path.split('/').pop()!;
    const committed = async (): Promise<number> => Number((await a.db.query<{ n: number | null }>('SELECT max(committed_lines) AS n FROM import_file')).rows[0]!.n ?? 0);
    while ((await committed()) < 4) await sleep(5);
    // The crash: A stops between two batches and never finishes the job or gives its lease back.
    await a.importRunner!.stop();
    const left = (await a.db.query<{ status: string; attempts: number }>('SELECT status, attempts FROM import_job WHERE id = $1', [id])).rows[0]!;
    expect(left).toEqual({ status: 'running', attempts: 1 });
    const before = await committed();
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(patients.length);

    // B comes up while A's lease still holds: it leaves the job alone until the lease expires.
    const b = await start(await open());
    const first = await b.request({ method: 'GET', url: path });
    expect(first.statusCode).toBe(202);
    const { res } = await poll(b, path);
    expect(res.statusCode, res.body).toBe(200);
    const body = JSON.parse(res.body) as { output: { type: string; count: number }[] };
    expect(body.output).toEqual([expect.objectContaining({ type: 'Patient', count: patients.length, written: patients.length })]);
    expect((await b.db.query<{ attempts: number }>('SELECT attempts FROM import_job WHERE id = $1', [id])).rows[0]!.attempts).toBe(2);
    const n = async (sql: string): Promise<number> => Number((await b.db.query<{ n: string }>(sql)).rows[0]!.n);
    expect(await n("SELECT count(*) AS n FROM resource WHERE resource_type = 'Patient' AND id LIKE 'resume-%'")).toBe(patients.length);
    expect(await n("SELECT count(*) AS n FROM resource_version WHERE resource_type = 'Patient' AND id LIKE 'resume-%'")).toBe(patients.length);
    expect(await n("SELECT count(*) AS n FROM resource WHERE id LIKE 'resume-%' AND version_id <> 1")).toBe(0);
    // The input was fetched twice (once per run), the journal let the second run skip what the first committed.
    expect(files.requests.filter((r) => r === '/Patient.ndjson')).toHaveLength(2);
  });
});

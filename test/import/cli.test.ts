// `npm run import` as a process (src/import-cli.ts) against its own PostgreSQL database: killed
// mid-import and run again it loads every line exactly once; run once more it reads nothing; rejected
// lines land in the report file with file, line, resource and OperationOutcome.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl } from '../support/db.js';
import { benchResources, fixtureDir, type FixtureDir } from './fixtures.js';

const url = postgresUrl();

describe.skipIf(!url)('npm run import (process, PostgreSQL)', () => {
  let admin: pg.Client;
  let files: FixtureDir;
  const name = `import_cli_${randomBytes(5).toString('hex')}`;
  let databaseUrl = '';

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(url!);
    u.pathname = `/${name}`;
    databaseUrl = u.toString();
    files = await fixtureDir();
  });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await files.remove();
  });

  const run = (args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/import-cli.ts', ...args], {
      env: { ...process.env, DATABASE_URL: databaseUrl, HOST: '127.0.0.1', CONCORD_AUTH: 'off', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
    );
    return { child, done };
  };

  const query = async <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end();
    }
  };

  // Three process starts (each loads the R4 definitions) on a shared, loaded machine: a generous timeout.
  it('killed mid-import, the same command again loads every line once; once more it reads nothing', { timeout: 240_000 }, async () => {
    const resources = benchResources(4);
    const paths = await files.export(resources);
    const first = run(['--batch', '2', '--workers', '0', '--no-progress', ...paths]);
    // Kill (SIGKILL: no cleanup at all) once some batches are committed.
    for (;;) {
      const rows = await query<{ n: string }>(`SELECT COALESCE(sum(committed_lines), 0) AS n FROM import_file`).catch(() => [{ n: '0' }]);
      if (Number(rows[0]!.n) >= 40) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const [partial] = await query<{ n: string }>('SELECT count(*) AS n FROM resource_version');
    expect(Number(partial!.n)).toBeGreaterThan(0);
    expect(Number(partial!.n)).toBeLessThan(resources.length);

    const second = await run(['--batch', '2', '--workers', '0', '--no-progress', ...paths]).done;
    expect(second.code, second.stderr).toBe(0);
    const counts = await query<{ versions: number; resources: number; distinct_ids: number }>(
      'SELECT (SELECT count(*)::int FROM resource_version) AS versions, (SELECT count(*)::int FROM resource) AS resources, (SELECT count(DISTINCT (resource_type, id))::int FROM resource_version) AS distinct_ids',
    );
    // The server's own conformance resources are not written by an import: only the imported ones exist.
    expect(counts[0]).toEqual({ versions: resources.length, resources: resources.length, distinct_ids: resources.length });
    const journal = await query<{ complete: boolean; lines: number }>('SELECT bool_and(completed_at IS NOT NULL) AS complete, sum(committed_lines)::int AS lines FROM import_file');
    expect(journal[0]).toEqual({ complete: true, lines: resources.length });

    const third = await run(['--no-progress', ...paths]).done;
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toContain('already imported');
    expect(third.stderr).toContain('this run: 0 lines');
  });

  it('writes rejected lines to the report and exits 3', { timeout: 120_000 }, async () => {
    const path = await files.file('Patient-report.ndjson', [
      { resourceType: 'Patient', id: 'report-ok' },
      'not json',
      '{"resourceType": "Patient", "id": "report-bad", "birthDate": "yesterday"}',
    ]);
    const report = join(files.dir, 'report.ndjson');
    const result = await run(['--report', report, '--no-progress', path]).done;
    expect(result.code, result.stderr).toBe(3);
    const lines = (await readFile(report, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ file: 'Patient-report.ndjson', line: 2, outcome: { resourceType: 'OperationOutcome' } });
    expect(lines[1]).toMatchObject({ file: 'Patient-report.ndjson', line: 3, resourceType: 'Patient', id: 'report-bad', outcome: { resourceType: 'OperationOutcome' } });
    expect(JSON.stringify(lines[1])).toContain('birthDate');
  });
});

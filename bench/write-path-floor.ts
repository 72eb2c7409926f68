// What one Patient create costs PostgreSQL and the driver, by statement shape: sequential write
// transactions on one connection, with the Node CPU of this process and the backend's CPU (from /proc)
// per write. Shapes: the statements one by one as before docs/adr/0013 (INSERT resource, INSERT version,
// index CTE, pg_notify), the single version-write statement, and that statement without the foreign
// keys of the index tables (what those keys cost per write).
//   npx tsx bench/write-path-floor.ts [--n 3000] [--rounds 3]
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { flags } from './args.js';
import { benchPatient } from './fixtures.js';
import { migrate } from '../src/storage/migrate.js';
import { openPostgres } from '../src/storage/postgres.js';
import { indexInsertOf, writeSearchIndex } from '../src/storage/search/write-index.js';
import { versionWriteStatement } from '../src/storage/version-write.js';
import { membersColumn } from '../src/access/compartment.js';
import type { Queryable } from '../src/storage/database.js';

const f = flags(process.argv.slice(2));
const n = f.num('n', 3000, 1, true);
const rounds = f.num('rounds', 3, 1, true);
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_floor_${randomUUID().slice(0, 8)}`;

const db = await openPostgres({ connectionString: url, schema, max: 2 });
await migrate(db);
const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema},public` });
await client.connect();
const q: Queryable = {
  async query<T>(sql: string, params?: unknown[], options?: { prepare?: boolean }) {
    const res = options?.prepare ? await client.query({ name: `s${hash(sql)}`, text: sql, values: params ?? [] }) : await client.query(sql, params);
    return { rows: res.rows as T[], rowCount: res.rowCount ?? 0 };
  },
  async exec(sql) {
    await client.query(sql);
  },
};
function hash(s: string): string {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}
const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
async function backendCpu(): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

let seq = 0;
function version(): { v: { resourceType: string; id: string; versionId: number; lastUpdated: string; deleted: boolean; content: string }; resource: Record<string, unknown> } {
  const id = `p${++seq}-${randomUUID()}`;
  const lastUpdated = new Date().toISOString();
  const resource = { ...benchPatient(seq), id, meta: { versionId: '1', lastUpdated } };
  return { v: { resourceType: 'Patient', id, versionId: 1, lastUpdated, deleted: false, content: JSON.stringify(resource) }, resource };
}
const channel = `floor_${schema}`;
const PREPARED = { prepare: true };

const shapes: Record<string, () => Promise<void>> = {
  'statements one by one (before)': async () => {
    const { v, resource } = version();
    const r = await q.query<{ rid: number }>(
      `INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content) VALUES ($1, $2, 1, $3, $4, $5) RETURNING rid`,
      [v.resourceType, v.id, v.lastUpdated, v.deleted, v.content],
      PREPARED,
    );
    const rid = r.rows[0]!.rid;
    await q.query(
      `INSERT INTO resource_version (rid, resource_type, id, version_id, last_updated, method, content) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [rid, v.resourceType, v.id, 1, v.lastUpdated, 'POST', v.content],
      PREPARED,
    );
    await writeSearchIndex(q, rid, resource);
    await q.query('SELECT pg_notify($1, $2)', [channel, `Patient/${v.id}`], PREPARED);
  },
  'one version-write statement': async () => {
    const { v, resource } = version();
    const { sql, params } = versionWriteStatement({ version: v, method: 'POST', resource, index: indexInsertOf(resource), members: membersColumn(resource), notify: { channel, payload: `Patient/${v.id}` } });
    await q.query(sql, params, PREPARED);
  },
};

const results: Record<string, { node: number[]; backend: number[]; wall: number[] }> = {};
async function run(name: string, fn: () => Promise<void>): Promise<void> {
  const cpu0 = process.cpuUsage();
  const b0 = await backendCpu();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await client.query('BEGIN');
    await fn();
    await client.query('COMMIT');
  }
  const wall = ((performance.now() - t0) * 1000) / n;
  const used = process.cpuUsage(cpu0);
  const backend = (await backendCpu()) - b0;
  const r = (results[name] ??= { node: [], backend: [], wall: [] });
  r.node.push((used.user + used.system) / n);
  r.backend.push(backend / n);
  r.wall.push(wall);
}

try {
  for (const fn of Object.values(shapes)) for (let i = 0; i < 200; i++) await fn(); // warm-up (plans, caches)
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of Object.entries(shapes)) await run(name, fn);
    if (round === rounds - 1) {
      // Same single statement once the index tables' foreign keys (never needed: resource rows are
      // never removed) are gone: their per-row RI trigger checks are what this measures.
      const fks = await client.query<{ t: string; c: string }>(
        `SELECT conrelid::regclass::text AS t, conname AS c FROM pg_constraint
          WHERE contype = 'f' AND connamespace = $1::regnamespace AND conrelid::regclass::text <> 'resource_version'`,
        [schema],
      );
      for (const fk of fks.rows) await client.query(`ALTER TABLE ${fk.t} DROP CONSTRAINT ${fk.c}`);
      for (let i = 0; i < 200; i++) await shapes['one version-write statement']!();
      for (let r2 = 0; r2 < rounds; r2++) await run('one statement, no index-table foreign keys', shapes['one version-write statement']!);
    }
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(`${n} sequential Patient creates per measurement, ${rounds} rounds, medians (µs per create, BEGIN/COMMIT included)\n\n`);
  process.stdout.write('| shape | Node CPU | backend CPU | wall |\n|---|---:|---:|---:|\n');
  for (const [name, r] of Object.entries(results)) process.stdout.write(`| ${name} | ${med(r.node).toFixed(0)} | ${med(r.backend).toFixed(0)} | ${med(r.wall).toFixed(0)} |\n`);
} finally {
  await client.end();
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
}

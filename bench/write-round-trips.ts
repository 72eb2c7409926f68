// Round trips to PostgreSQL per write request: an in-process Concord (rules on, audit on, auth off) on a
// fresh schema, its node-postgres clients wrapped in a counting shim. A round trip is a statement sent
// while its connection had no other statement outstanding, i.e. one the request had to wait for; a
// statement sent behind another (pipelined) is counted as a statement but not as a round trip.
//
//   npx tsx bench/write-round-trips.ts [--n 20]
//
// Prints, per interaction, the mean statements and round trips per request, the statement kinds, and
// for these sequential requests (one at a time) the mean wall time, the Node CPU of this process (server
// and client share it) and the CPU of the pool's PostgreSQL backends (from /proc) per request.
import { randomUUID } from 'node:crypto';
import { flags } from './args.js';
import { benchPatient } from './fixtures.js';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { openPostgres } from '../src/storage/postgres.js';
import { migrate } from '../src/storage/migrate.js';
import { loadDirectory } from './load-members.js';
import { hhTeam, seedMembers, type Ctx } from './rules-cost.js';
import { processCpuUs } from './process-cpu.js';
import { countStatements } from './statement-counter.js';

const f = flags(process.argv.slice(2));
const n = f.num('n', 20, 1, true);
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_trips_${randomUUID().slice(0, 8)}`;

const counter = countStatements();

// ---- the server --------------------------------------------------------------------------------------------
const applicationName = `concord_${schema}`;
const db = await openPostgres({ connectionString: url, schema, max: 4, applicationName });
await migrate(db);
const server = await createServer(loadConfig({ LOG_LEVEL: 'silent', HOST: '127.0.0.1', CONCORD_AUTH: 'off', CONCORD_RULES: 'on', RATE_LIMIT_PER_MINUTE: '0' }), false, db);
await server.app.listen({ host: '127.0.0.1', port: 0 });
const address = server.app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/fhir`;

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; id?: string }> {
  const res = await fetch(`${base}/${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const id = text ? (JSON.parse(text) as { id?: string }).id : undefined;
  return { status: res.status, ...(id ? { id } : {}) };
}

interface Row {
  label: string;
  statements: number;
  trips: number;
  kinds: [string, number][];
  wallMs: number;
  nodeCpuUs: number;
  backendCpuUs: number;
}

/** CPU (user + system, µs) of this schema's pooled backends so far. */
async function backendCpu(): Promise<number> {
  const pids = (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName])).rows.map((r) => r.pid);
  let total = 0;
  for (const pid of pids) {
    total += processCpuUs(pid) ?? 0;
  }
  return total;
}
const rows: Row[] = [];

async function measure(label: string, expected: number, requests: (() => Promise<{ status: number }>)[]): Promise<void> {
  counter.reset();
  const backend0 = await backendCpu();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const r of requests) {
    counter.counting = true;
    const { status } = await r();
    counter.counting = false;
    if (status !== expected) throw new Error(`${label}: status ${status}, expected ${expected}`);
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const backend = (await backendCpu()) - backend0;
  const n = requests.length;
  rows.push({ label, statements: counter.statements / n, trips: counter.trips / n, kinds: [...counter.kinds].map(([k, c]) => [k, c / n]), wallMs: wall / n, nodeCpuUs: (cpu.user + cpu.system) / n, backendCpuUs: backend / n });
}

try {
  const dir = await loadDirectory(base);
  const ctx: Ctx = { hh: { reference: `Organization/${dir.healthHomes[0]!}` }, hhRole: { reference: `PractitionerRole/${dir.hhRoles[0]![0]!}` } };
  const members = await seedMembers(base, 0, n, 1, 10, ctx);
  // Warm: statements prepared on the pooled connections, caches filled.
  for (let i = 0; i < 200; i++) await send('POST', 'Patient', benchPatient(100_000 + i));

  const created: string[] = [];
  await measure(
    'Patient create',
    201,
    Array.from({ length: n }, (_, i) => async () => {
      const r = await send('POST', 'Patient', benchPatient(i));
      created.push(r.id!);
      return r;
    }),
  );
  await measure(
    'Patient update',
    200,
    created.map((id, i) => () => send('PUT', `Patient/${id}`, { ...benchPatient(i + 1), id })),
  );
  await measure(
    'Patient delete',
    204,
    created.map((id) => () => send('DELETE', `Patient/${id}`)),
  );
  await measure(
    'CareTeam create (rules on, member with 1 team)',
    201,
    members.map((m) => () => send('POST', 'CareTeam', hhTeam({ reference: `Patient/${m}` }, ctx, '2025-06-01'))),
  );
  for (const r of rows) {
    process.stdout.write(`\n${r.label}: ${r.statements.toFixed(2)} statements, ${r.trips.toFixed(2)} round trips per request; ${r.wallMs.toFixed(2)} ms wall, ${r.nodeCpuUs.toFixed(0)} µs Node CPU, ${r.backendCpuUs.toFixed(0)} µs backend CPU per request\n`);
    for (const [k, c] of r.kinds) process.stdout.write(`  ${c.toFixed(2)}  ${k}\n`);
  }
} finally {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await server.close();
}

// CPU per Patient create with the Subscription candidates held per instance (SUBSCRIPTION_CANDIDATE_CACHE
// on) and queried in every write transaction (off), side by side in one process: two in-process Concords
// (rules on, audit on, auth off, dispatch off), each on its own PostgreSQL schema, take alternating blocks
// of sequential POST /fhir/Patient (on, off, off, on, ...). Per block: this process's CPU
// (process.cpuUsage) and the CPU of that Concord's PostgreSQL backends (/proc/<pid>/schedstat of every
// session with its application_name, the change listener included), divided by the creates.
//
//   npx tsx bench/candidates-cpu.ts [--n 800] [--block 50] [--subs 0] [--peer] [--concurrency 1] [--peers-modes]
//
// --concurrency C: C creates in flight per lane (concurrent writes share one fence sync).
// --subs K: K classic Subscriptions on Patient on each schema (every create then records K events).
// --peer: a second, idle Concord on each schema (its sessions are measured with the lane's), so no
// instance is alone and every cached write first proves it heard earlier commits (the read fence's
// sync on the listening connection, heard by the peer's listener too). The cache-on lane then runs with
// READ_CACHE_WITH_PEERS=sync: by default (database) an instance with a peer queries instead.
// --peers-modes (implies --peer): both lanes hold the list, and compare how a write with a peer trusts it:
// READ_CACHE_WITH_PEERS=sync (a sync, then the list) against database (the query, no sync; docs/adr/0016).
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import pg from 'pg';
import { flags } from './args.js';
import { benchPatient } from './fixtures.js';
import { loadConfig } from '../src/config.js';
import { createServer, type Server } from '../src/server.js';
import { openPostgres } from '../src/storage/postgres.js';
import { migrate } from '../src/storage/migrate.js';

const f = flags(process.argv.slice(2));
const n = f.num('n', 800, 20, true);
const block = f.num('block', 50, 5, true);
const subs = f.num('subs', 0, 0, true);
const concurrency = f.num('concurrency', 1, 1, true);
const peersModes = process.argv.includes('--peers-modes');
const peer = peersModes || f.value('peer') !== undefined || process.argv.includes('--peer');
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Lane {
  label: string;
  schema: string;
  app: string;
  server: Server;
  peer?: Server;
  cpuUs: number;
  pgUs: number;
  creates: number;
  /** Per measured block: [Node µs, PostgreSQL µs] per create. */
  blocks: [number, number][];
}

const ENV = { LOG_LEVEL: 'silent', HOST: '127.0.0.1', CONCORD_AUTH: 'off', CONCORD_RULES: 'on', RATE_LIMIT_PER_MINUTE: '0', SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' };

async function start(schema: string, app: string, env: Record<string, string>): Promise<Server> {
  const db = await openPostgres({ connectionString: url, schema, max: 10, applicationName: app });
  await migrate(db);
  return createServer(loadConfig({ ...ENV, ...env }), false, db);
}

async function lane(label: string, env: Record<string, string>): Promise<Lane> {
  const schema = `bench_cand_${randomUUID().slice(0, 8)}`;
  const app = `concord_${schema}`;
  const server = await start(schema, app, env);
  const other = peer ? await start(schema, `${app}_peer`, env) : undefined;
  for (let i = 0; i < subs; i++) {
    const res = await server.app.inject({
      method: 'PUT',
      url: `/fhir/Subscription/bench-${i}`,
      headers: { 'content-type': 'application/fhir+json' },
      payload: JSON.stringify({ resourceType: 'Subscription', id: `bench-${i}`, status: 'requested', reason: 'bench', criteria: 'Patient', channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/hook', payload: 'application/fhir+json' } }),
    });
    if (res.statusCode >= 300) throw new Error(`subscription: ${res.statusCode} ${res.body}`);
  }
  return { label, schema, app, server, ...(other ? { peer: other } : {}), cpuUs: 0, pgUs: 0, creates: 0, blocks: [] };
}

const admin = new pg.Client({ connectionString: url });
await admin.connect();

/** Backend CPU (µs) of every session of the lane, by pid. */
async function backendCpu(app: string): Promise<Map<number, number>> {
  const res = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 OR application_name = $2', [app, `${app}_peer`]);
  const out = new Map<number, number>();
  for (const { pid } of res.rows) {
    const text = await readFile(`/proc/${pid}/schedstat`, 'utf8').catch(() => undefined);
    if (text) out.set(pid, Number(text.split(' ')[0]) / 1000);
  }
  return out;
}

async function create(l: Lane, i: number): Promise<void> {
  const res = await l.server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify(benchPatient(i)) });
  if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`);
}

async function runBlock(l: Lane, count: number, measure: boolean): Promise<void> {
  const pg0 = await backendCpu(l.app);
  const cpu0 = process.cpuUsage();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await create(l, l.creates + next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  const pg1 = await backendCpu(l.app);
  if (!measure) return;
  // Sessions opened during the block count from zero: their whole life was this block's work.
  let pgUs = 0;
  for (const [pid, us] of pg1) pgUs += us - (pg0.get(pid) ?? 0);
  l.pgUs += pgUs;
  l.cpuUs += cpu.user + cpu.system;
  l.blocks.push([(cpu.user + cpu.system) / count, pgUs / count]);
  l.creates += count;
}

// "on" and "off" name the two lanes in the output: the list held against queried, or with --peers-modes
// the sync against the query.
const on = peersModes ? await lane('sync (READ_CACHE_WITH_PEERS=sync)', { READ_CACHE_WITH_PEERS: 'sync' }) : await lane('cache on', { SUBSCRIPTION_CANDIDATE_CACHE: 'on', ...(peer ? { READ_CACHE_WITH_PEERS: 'sync' } : {}) });
const off = peersModes ? await lane('query (READ_CACHE_WITH_PEERS=database)', { READ_CACHE_WITH_PEERS: 'database' }) : await lane('cache off', { SUBSCRIPTION_CANDIDATE_CACHE: 'off' });
process.stdout.write(`load before: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
for (const l of [on, off]) await runBlock(l, 40, false);
for (let done = 0, round = 0; done < n; done += block, round++) {
  const order = round % 2 === 0 ? [on, off] : [off, on];
  for (const l of order) await runBlock(l, block, true);
}
process.stdout.write(`load after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
process.stdout.write(`creates per lane: ${on.creates}, block ${block}, subscriptions ${subs}, peer ${peer ? 'yes' : 'no'}, concurrency ${concurrency}\n`);
for (const l of [on, off]) {
  process.stdout.write(`${l.label}: Node CPU ${(l.cpuUs / l.creates).toFixed(0)} µs/create, PostgreSQL backends ${(l.pgUs / l.creates).toFixed(0)} µs/create\n`);
}
process.stdout.write(`${on.label} - ${off.label}: Node ${((on.cpuUs / on.creates - off.cpuUs / off.creates)).toFixed(0)} µs, PostgreSQL ${((on.pgUs / on.creates - off.pgUs / off.creates)).toFixed(0)} µs per create\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
// Blocks of one round ran back to back: their difference is robust to the machine's load drifting.
const paired = (k: 0 | 1): number => median(on.blocks.map((b, i) => b[k] - off.blocks[i]![k]));
process.stdout.write(`median of paired block differences (first lane - second): Node ${paired(0).toFixed(0)} µs, PostgreSQL ${paired(1).toFixed(0)} µs per create\n`);
process.stdout.write(`reloads of the held list (${on.label}): ${on.server.candidateCache?.reloads ?? 0}, (${off.label}): ${off.server.candidateCache?.reloads ?? 0}\n`);

for (const l of [on, off]) {
  await l.peer?.close();
  await l.server.close();
  await admin.query(`DROP SCHEMA IF EXISTS ${l.schema} CASCADE`);
}
await admin.end();

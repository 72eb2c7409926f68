// REST core benchmark: autocannon against Concord's read-by-id (GET /fhir/Patient/:id) and create
// (POST /fhir/Patient), each beside a bare fastify JSON route serving / accepting the same ~1 KB
// Patient, on PostgreSQL and on PGlite.
//
//   npx tsx bench/rest-core.ts [--store postgres|pglite|both] [--duration 10] [--connections 10]
//                              [--repeats 3] [--warmup 3] [--seed 1000] [--pglite-dir] [--cpu-prof DIR]
//                              [--writes --delete-seed N] [--sql-floor]
//
// --writes: also updates and deletes; each delete takes a seeded Patient of its own, so N must cover every
// delete of the warm-up and the rounds (a delete rate of ~3,000/s needs ~3,000 x (warm-up + rounds x
// duration) seconds), or the exhausted ids answer 404 and the run shows failures.
// --sql-floor (PostgreSQL): also the create's SQL alone, replayed from a bare route (bench/create-sql-replay.ts).
//
// Both servers live in ONE child process (same Node flags, same heap, same event loop, only one of
// them loaded at a time); autocannon runs in this process so the load generator never steals the
// server's event loop. Each measurement is repeated, interleaved (bare, Concord, bare, Concord...,
// order reversed every other round to cancel drift), and reported as the median.
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon, { type AutocannonRequest, type Result } from 'autocannon';
import pg from 'pg';
import { benchPatient } from './fixtures.js';
import type { ChildMessage, ParentMessage, ServerOptions } from './rest-core-server.js';
import { flags } from './args.js';
import { childCpu } from './child-cpu.js';
import { cpuDelta, processCpuUs } from './process-cpu.js';

export type StoreName = 'postgres' | 'pglite';

export interface RestCoreOptions {
  stores: StoreName[];
  duration: number;
  connections: number;
  repeats: number;
  warmup: number;
  seed: number;
  databaseUrl: string;
  pgliteDir: boolean;
  /** Write a V8 CPU profile of the server process into this directory. */
  cpuProf?: string;
  /** Also measure updates (PUT of a seeded Patient) and deletes (each of a fresh seeded Patient). */
  writes: boolean;
  /** Patients seeded for the deletes (each is deleted once; deletes beyond them are not counted). */
  deleteSeed: number;
  /** PostgreSQL: also measure a bare route that replays one create's SQL (the create's PostgreSQL floor). */
  sqlFloor: boolean;
}

export interface RunStats {
  reqPerSec: number;
  p50: number;
  p97_5: number;
  p99: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  bytesPerResponse: number;
  /** CPU (user + system) the server process spent per completed request, in µs. */
  serverCpuPerRequest: number;
  /** PostgreSQL only: CPU of the pool's backend processes per completed request, in µs. */
  dbCpuPerRequest?: number;
}

export type Target = 'bare-read' | 'concord-read' | 'bare-create' | 'sql-create' | 'sql-version-create' | 'concord-create' | 'concord-update' | 'concord-delete';

export interface StoreResult {
  store: StoreName;
  storeDescription?: string;
  skipped?: string;
  runs: Record<Target, RunStats[]>;
  warmupProblems: string[];
  patientsAtEnd?: number;
  /** --sql-floor: the statements the SQL route replays. */
  sqlCapture?: string;
}

export interface RestCoreReport {
  options: RestCoreOptions;
  startedAt: string;
  finishedAt: string;
  loadBefore: number[];
  loadAfter: number[];
  postgresVersion?: string;
  results: StoreResult[];
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

const BASE_TARGETS: Target[] = ['bare-read', 'concord-read', 'bare-create', 'concord-create'];
const WRITE_TARGETS: Target[] = ['concord-update', 'concord-delete'];
const SQL_TARGETS: Target[] = ['sql-create', 'sql-version-create'];
const ALL_TARGETS: Target[] = [...BASE_TARGETS, ...SQL_TARGETS, ...WRITE_TARGETS];
const targetsOf = (o: RestCoreOptions, store: StoreName): Target[] => [
  ...BASE_TARGETS,
  ...(o.sqlFloor && store === 'postgres' ? SQL_TARGETS : []),
  ...(o.writes ? WRITE_TARGETS : []),
];
const LABEL: Record<Target, string> = {
  'bare-read': 'bare fastify GET /bare/Patient/:id',
  'concord-read': 'Concord GET /fhir/Patient/:id (read)',
  'bare-create': 'bare fastify POST /bare/Patient',
  'sql-create': "bare fastify POST /sql/Patient replaying one create's SQL (the PostgreSQL floor)",
  'sql-version-create': 'the same without the AuditEvent insert (version and index rows only)',
  'concord-create': 'Concord POST /fhir/Patient (create)',
  'concord-update': 'Concord PUT /fhir/Patient/:id (update)',
  'concord-delete': 'Concord DELETE /fhir/Patient/:id (delete)',
};

// ---- arguments -------------------------------------------------------------------------------------

export function parseArgs(argv: string[]): RestCoreOptions {
  const { value, num: number } = flags(argv);
  const num = (name: string, fallback: number, min: number): number => number(name, fallback, min, false);
  const store = value('store') ?? 'both';
  if (!['postgres', 'pglite', 'both'].includes(store)) throw new Error(`--store must be postgres, pglite or both, got '${store}'`);
  const cpuProf = value('cpu-prof');
  return {
    stores: store === 'both' ? ['postgres', 'pglite'] : [store as StoreName],
    duration: num('duration', 10, 1),
    connections: num('connections', 10, 1),
    repeats: Math.round(num('repeats', 3, 1)),
    warmup: num('warmup', 3, 0),
    seed: Math.round(num('seed', 1000, 1)),
    databaseUrl: process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
    pgliteDir: argv.includes('--pglite-dir'),
    writes: argv.includes('--writes'),
    deleteSeed: Math.round(num('delete-seed', 6000, 0)),
    sqlFloor: argv.includes('--sql-floor'),
    ...(cpuProf ? { cpuProf } : {}),
  };
}

/** The command line that reproduces a run with these options. */
export function commandFor(options: RestCoreOptions, script = 'bench/rest-core.ts'): string {
  const store = options.stores.length === 2 ? 'both' : options.stores[0];
  const parts = [`npx tsx ${script}`, `--store ${store}`, `--duration ${options.duration}`, `--connections ${options.connections}`];
  if (options.repeats !== 3) parts.push(`--repeats ${options.repeats}`);
  if (options.warmup !== 3) parts.push(`--warmup ${options.warmup}`);
  if (options.seed !== 1000) parts.push(`--seed ${options.seed}`);
  if (options.pgliteDir) parts.push('--pglite-dir');
  if (options.writes) parts.push('--writes', `--delete-seed ${options.deleteSeed}`);
  if (options.sqlFloor) parts.push('--sql-floor');
  return parts.join(' ');
}

// ---- the server child process ------------------------------------------------------------------------

interface ChildHandle {
  child: ChildProcess;
  ready: Extract<ChildMessage, { type: 'ready' }>;
  /** user + system CPU time of the server process so far, µs. */
  cpu(): Promise<number>;
  close(): Promise<number | undefined>;
}

async function startChild(store: StoreName, options: RestCoreOptions): Promise<ChildHandle> {
  const serverOptions: ServerOptions = {
    store,
    databaseUrl: options.databaseUrl,
    pgliteDir: options.pgliteDir,
    seed: options.seed,
    deleteSeed: options.writes ? options.deleteSeed : 0,
    sqlFloor: options.sqlFloor && store === 'postgres',
  };
  const execArgv = ['--import', import.meta.resolve('tsx')];
  // Node's default file names carry the process and thread ids: a fixed --cpu-prof-name made tsx's
  // loader thread overwrite the main thread's profile.
  if (options.cpuProf) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProf}`);
  const child = fork(fileURLToPath(new URL('./rest-core-server.ts', import.meta.url)), [JSON.stringify(serverOptions)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let patientsAtEnd: number | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<Extract<ChildMessage, { type: 'ready' }>>((resolve, reject) => {
    // Seeding goes through Concord's create path, one at a time: allow ~20 per second on a loaded machine.
    const readyMs = 180_000 + ((options.seed + (options.writes ? options.deleteSeed : 0)) / 20) * 1000;
    const timer = setTimeout(() => reject(new Error(`server child not ready within ${readyMs / 1000} s`)), readyMs);
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message);
      } else if (message.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`server child failed: ${message.message}`));
      } else if (message.type === 'closed') {
        patientsAtEnd = message.patientCount;
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server child exited (code ${code}) before it was ready`));
    });
  }).catch(async (err: unknown) => {
    await stopChild(child, exited);
    throw err;
  });
  return {
    child,
    ready,
    cpu: () => childCpu(child, 'server child'),
    async close() {
      if (child.connected) child.send({ type: 'close' } satisfies ParentMessage);
      await stopChild(child, exited);
      return patientsAtEnd;
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

// ---- PostgreSQL backend CPU ---------------------------------------------------------------------------------


/** CPU time (µs) of each backend process serving the benchmark's pool, read from /proc (same machine). */
export class BackendCpu {
  private constructor(
    private readonly client: pg.Client,
    private readonly applicationName: string,
  ) {}

  static async open(url: string, applicationName: string): Promise<BackendCpu | undefined> {
    if (process.platform !== 'linux') return undefined;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      return new BackendCpu(client, applicationName);
    } catch {
      await client.end().catch(() => undefined);
      return undefined;
    }
  }

  async snapshot(): Promise<Map<number, number>> {
    const res = await this.client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [this.applicationName]);
    const out = new Map<number, number>();
    for (const { pid } of res.rows) {
      const cpu = processCpuUs(pid);
      if (cpu !== undefined) out.set(pid, cpu);
    }
    return out;
  }

  close(): Promise<void> {
    return this.client.end().catch(() => undefined);
  }
}

// ---- load ---------------------------------------------------------------------------------------------

function requestsFor(target: Target, ids: string[], deleteIds: string[]): AutocannonRequest[] {
  const body = JSON.stringify(benchPatient(0));
  let i = 0;
  const rotate = (prefix: string): AutocannonRequest => ({
    method: 'GET',
    headers: { accept: 'application/fhir+json' },
    setupRequest: (request) => ({ ...request, path: `${prefix}${ids[i++ % ids.length] ?? 'missing'}` }),
  });
  switch (target) {
    case 'bare-read':
      return [rotate('/bare/Patient/')];
    case 'concord-read':
      return [rotate('/fhir/Patient/')];
    case 'bare-create':
      return [{ method: 'POST', path: '/bare/Patient', headers: { 'content-type': 'application/json' }, body }];
    case 'sql-create':
      return [{ method: 'POST', path: '/sql/Patient', headers: { 'content-type': 'application/json' }, body }];
    case 'sql-version-create':
      return [{ method: 'POST', path: '/sql-version/Patient', headers: { 'content-type': 'application/json' }, body }];
    case 'concord-create':
      return [
        {
          method: 'POST',
          path: '/fhir/Patient',
          headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
          body,
        },
      ];
    case 'concord-update':
      // Each update changes one element, so every request writes a new version of a seeded Patient.
      return [
        {
          method: 'PUT',
          headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
          setupRequest: (request) => {
            const id = ids[i % ids.length] ?? 'missing';
            const n = i++;
            return { ...request, path: `/fhir/Patient/${id}`, body: JSON.stringify({ ...benchPatient(n), id, active: n % 2 === 0 }) };
          },
        },
      ];
    case 'concord-delete':
      return [{ method: 'DELETE', setupRequest: (request) => ({ ...request, path: `/fhir/Patient/${deleteIds[nextDelete++] ?? 'exhausted'}` }) }];
  }
}

/** Deletes consume the seeded delete ids across all runs (each id is deleted once). */
let nextDelete = 0;

async function measure(target: Target, handle: ChildHandle, options: RestCoreOptions, duration: number, backends?: BackendCpu): Promise<RunStats> {
  const { ready } = handle;
  const port = target.startsWith('bare') || target.startsWith('sql') ? ready.barePort : ready.concordPort;
  const cpuBefore = await handle.cpu();
  const dbBefore = await backends?.snapshot();
  const result: Result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    title: target,
    connections: options.connections,
    duration,
    timeout: 10,
    requests: requestsFor(target, ready.ids, ready.deleteIds),
  });
  const cpuAfter = await handle.cpu();
  const dbAfter = await backends?.snapshot();
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  const total = result.requests.total;
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p97_5: result.latency.p97_5,
    p99: result.latency.p99,
    total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    bytesPerResponse: total > 0 ? Math.round(result.throughput.total / total) : 0,
    serverCpuPerRequest: total > 0 ? (cpuAfter - cpuBefore) / total : Number.NaN,
    ...(dbBefore && dbAfter ? { dbCpuPerRequest: total > 0 ? cpuDelta(dbBefore, dbAfter) / total : Number.NaN } : {}),
  };
}

export const failed = (r: RunStats): boolean => r.non2xx + r.errors + r.timeouts > 0;

function log(message: string): void {
  process.stderr.write(`[rest-core] ${message}\n`);
}

async function runStore(store: StoreName, options: RestCoreOptions): Promise<StoreResult> {
  const runs = Object.fromEntries(ALL_TARGETS.map((t) => [t, [] as RunStats[]])) as Record<Target, RunStats[]>;
  const targets = targetsOf(options, store);
  const result: StoreResult = { store, runs, warmupProblems: [] };
  log(`${store}: starting server child, seeding ${options.seed} Patients`);
  let handle: ChildHandle;
  try {
    handle = await startChild(store, options);
  } catch (err) {
    result.skipped = err instanceof Error ? err.message : String(err);
    log(`${store}: skipped: ${result.skipped}`);
    return result;
  }
  result.storeDescription = handle.ready.storeDescription;
  if (handle.ready.sqlCapture) result.sqlCapture = handle.ready.sqlCapture;
  const backends = handle.ready.applicationName ? await BackendCpu.open(options.databaseUrl, handle.ready.applicationName) : undefined;
  try {
    if (options.warmup > 0) {
      for (const target of targets) {
        const w = await measure(target, handle, options, options.warmup, backends);
        log(`${store}: warm-up ${target}: ${w.reqPerSec.toFixed(0)} req/s`);
        if (failed(w)) result.warmupProblems.push(`${target}: ${describeFailures(w)}`);
      }
    }
    for (let round = 0; round < options.repeats; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const r = await measure(target, handle, options, options.duration, backends);
        runs[target].push(r);
        log(
          `${store}: round ${round + 1}/${options.repeats} ${target}: ${r.reqPerSec.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ` +
            `server CPU ${r.serverCpuPerRequest.toFixed(0)} µs/req` +
            (r.dbCpuPerRequest === undefined ? '' : `, backend CPU ${r.dbCpuPerRequest.toFixed(0)} µs/req`) +
            (failed(r) ? `, FAILURES ${describeFailures(r)}` : ''),
        );
      }
    }
  } finally {
    await backends?.close();
    const n = await handle.close();
    if (n !== undefined) result.patientsAtEnd = n;
  }
  return result;
}

async function postgresVersion(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const res = await client.query<{ server_version: string }>('SHOW server_version');
    return res.rows[0]?.server_version;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function runRestCore(options: RestCoreOptions): Promise<RestCoreReport> {
  const startedAt = new Date().toISOString();
  const loadBefore = os.loadavg();
  const pgVersion = options.stores.includes('postgres') ? await postgresVersion(options.databaseUrl) : undefined;
  const results: StoreResult[] = [];
  for (const store of options.stores) results.push(await runStore(store, options));
  return {
    options,
    startedAt,
    finishedAt: new Date().toISOString(),
    loadBefore,
    loadAfter: os.loadavg(),
    ...(pgVersion ? { postgresVersion: pgVersion } : {}),
    results,
  };
}

// ---- report --------------------------------------------------------------------------------------------

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function describeFailures(r: RunStats): string {
  const codes = Object.entries(r.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n}×${code}`);
  return [`non-2xx ${r.non2xx}`, `errors ${r.errors}`, `timeouts ${r.timeouts}`, ...codes].join(', ');
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const pct = (n: number): string => (Number.isFinite(n) ? `${(n * 100).toFixed(1)} %` : 'n/a');

export function readRatio(r: StoreResult): number {
  return median(r.runs['concord-read'].map((x) => x.reqPerSec)) / median(r.runs['bare-read'].map((x) => x.reqPerSec));
}

export function createRatio(r: StoreResult): number {
  return median(r.runs['concord-create'].map((x) => x.reqPerSec)) / median(r.runs['bare-create'].map((x) => x.reqPerSec));
}

const STORE_TITLE: Record<StoreName, string> = { postgres: 'PostgreSQL', pglite: 'PGlite' };

function storeTable(r: StoreResult): string[] {
  const lines = [
    `#### ${STORE_TITLE[r.store]} — ${r.storeDescription ?? ''}`,
    '',
    '| Measurement | req/s (median) | p50 ms | p97.5 ms | p99 ms | req/s of each run | server CPU µs/req | PostgreSQL backend CPU µs/req | bytes/response | non-2xx / errors / timeouts |',
    '|---|---:|---:|---:|---:|---|---:|---:|---:|---|',
  ];
  for (const target of ALL_TARGETS) {
    const runs = r.runs[target];
    if (runs.length === 0) continue;
    const bad = runs.filter(failed);
    const sum = (f: (x: RunStats) => number): number => runs.reduce((a, x) => a + f(x), 0);
    lines.push(
      `| ${LABEL[target]} | ${fmt(median(runs.map((x) => x.reqPerSec)))} | ${fmt(median(runs.map((x) => x.p50)))} | ` +
        `${fmt(median(runs.map((x) => x.p97_5)))} | ${fmt(median(runs.map((x) => x.p99)))} | ` +
        `${runs.map((x) => fmt(x.reqPerSec)).join(', ')} | ${fmt(median(runs.map((x) => x.serverCpuPerRequest)))} | ` +
        `${r.store === 'postgres' ? fmt(median(runs.flatMap((x) => (x.dbCpuPerRequest === undefined ? [] : [x.dbCpuPerRequest])))) : '—'} | ` +
        `${fmt(median(runs.map((x) => x.bytesPerResponse)))} | ` +
        `${sum((x) => x.non2xx)} / ${sum((x) => x.errors)} / ${sum((x) => x.timeouts)}` +
        (bad.length > 0 ? ` — **${bad.length} run(s) with failures**: ${bad.map(describeFailures).join('; ')}` : '') +
        ' |',
    );
  }
  lines.push('');
  lines.push(`Ratio Concord / bare (median req/s): **read-by-id ${pct(readRatio(r))}**, create ${pct(createRatio(r))}.`);
  if (r.runs['concord-update'].length > 0) {
    const bare = median(r.runs['bare-create'].map((x) => x.reqPerSec));
    const of = (t: Target): string => pct(median(r.runs[t].map((x) => x.reqPerSec)) / bare);
    lines.push('', `Update / bare POST: ${of('concord-update')}; delete / bare POST: ${of('concord-delete')}.`);
  }
  if (r.runs['sql-create'].length > 0) {
    const bare = median(r.runs['bare-create'].map((x) => x.reqPerSec));
    lines.push(
      '',
      `The create's SQL alone (no FHIR work in Node, one round trip per transaction) / bare POST: **${pct(median(r.runs['sql-create'].map((x) => x.reqPerSec)) / bare)}**, ` +
        `without its AuditEvent insert ${pct(median(r.runs['sql-version-create'].map((x) => x.reqPerSec)) / bare)}; statements replayed: ${r.sqlCapture ?? 'n/a'}.`,
    );
  }
  if (r.warmupProblems.length > 0) lines.push('', `Warm-up failures: ${r.warmupProblems.join('; ')}.`);
  if (r.patientsAtEnd !== undefined) lines.push('', `Patients in the store at the end: ${r.patientsAtEnd}.`);
  return lines;
}

export function renderMarkdown(report: RestCoreReport, command: string): string {
  const o = report.options;
  const cpu = os.cpus();
  const lines: string[] = [
    '## REST core: read-by-id and create vs a bare fastify route',
    '',
    `Run ${report.startedAt} → ${report.finishedAt}. Reproduce with:`,
    '',
    '```sh',
    command,
    '```',
    '',
    `- Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ` +
      `**shared with other engineers running test suites during the run** (load average before ${report.loadBefore.map((n) => n.toFixed(2)).join(' / ')}, ` +
      `after ${report.loadAfter.map((n) => n.toFixed(2)).join(' / ')}); absolute numbers are noisy, the ratios are the point.`,
    `- Node ${process.version}, ${os.type()} ${os.release()}; PostgreSQL ${report.postgresVersion ?? 'n/a'} on 127.0.0.1 (same machine); PGlite 0.5.16 (WASM, in the server process).`,
    `- autocannon 8 (programmatic), ${o.connections} connections, no pipelining, ${o.duration} s per measurement, ${o.warmup} s warm-up per target, ` +
      `${o.repeats} rounds interleaved (bare, Concord, …; order reversed every other round); medians over the rounds. ` +
      `Reads rotate over ${o.seed} seeded Patients (bare GET rotates over the same ids); creates post the same ~1 KB Patient.`,
    '- Concord and the bare fastify app run in one child process (same flags and heap, one loaded at a time, logging off on both); ' +
      'autocannon runs in the parent so the load generator never shares the measured event loop. On 2 cores, autocannon, the server and (for PostgreSQL) the backend processes compete for CPU.',
    '- The bare GET returns a JS object (fastify serialises it per request); Concord returns the stored JSON text. The bare POST parses the body and echoes it with an id (no validation, no storage).',
    '- req/s is autocannon\'s mean of per-second samples; latencies are autocannon\'s (1 ms resolution). "Server CPU µs/req" is user+system CPU of the server process (Node + PGlite WASM) per completed request, ' +
      '"PostgreSQL backend CPU" that of the pool\'s backend processes (from /proc): both are far less sensitive to the shared machine than req/s.',
    '',
    '| Store | read-by-id / bare | ≥ 50 % target | create / bare |',
    '|---|---:|---|---:|',
  ];
  for (const r of report.results) {
    if (r.skipped) {
      lines.push(`| ${STORE_TITLE[r.store]} | skipped | — | — |`);
      continue;
    }
    const ratio = readRatio(r);
    const anyFailure = ALL_TARGETS.some((t) => r.runs[t].some(failed));
    lines.push(
      `| ${STORE_TITLE[r.store]} | ${pct(ratio)} | ${ratio >= 0.5 ? 'met' : '**not met**'}${anyFailure ? ' (runs with errors, see below)' : ''} | ${pct(createRatio(r))} |`,
    );
  }
  for (const r of report.results) {
    lines.push('');
    if (r.skipped) lines.push(`#### ${STORE_TITLE[r.store]} — skipped`, '', '```', r.skipped, '```');
    else lines.push(...storeTable(r));
  }
  return lines.join('\n');
}

// ---- CLI -------------------------------------------------------------------------------------------------

async function cli(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const report = await runRestCore(options);
  process.stdout.write(renderMarkdown(report, commandFor(options)) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

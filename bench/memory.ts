// Memory benchmark: starts the built server (`node dist/src/main.js`, run `npm run build` first) as a child
// process on each store and reads its resident set size (VmRSS, /proc/<pid>/status; Linux only) when idle
// after start-up, after a fixed warm-up (creates, reads, searches, $validate, capability statement) and,
// on both stores, after loading every official R4 example (hl7.fhir.r4.examples, batch Bundles of 50 PUTs).
// It also measures the floors: a bare Node process and a bare PGlite instance.
//   npx tsx bench/memory.ts [--store postgres|pglite|both] [--examples on|off] [--port 18300]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { databaseUrlFromEnv } from './concord-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FHIR_JSON = 'application/fhir+json';
const BATCH_ENTRIES = 50;
const BATCH_BYTES = 2 * 1024 * 1024;
let SETTLE_MS = 3000;
let ENTRY = 'dist/src/main.js';

interface Options {
  stores: ('postgres' | 'pglite')[];
  examples: boolean;
  port: number;
  /** --settle seconds: quiet time before each reading. */
  settleMs: number;
  /** --entry: the server's built entry point, relative to the repository (e.g. an older build to compare). */
  entry: string;
}

export interface StoreResult {
  store: 'postgres' | 'pglite';
  idleMb: number;
  warmMb: number;
  examplesMb?: number;
  /** PGlite: idle RSS after a restart on the same data directory (no initdb). */
  restartIdleMb?: number;
  /** PGlite: RSS of the WASM memory (largest mapping) idle after start, and after the examples. */
  wasmIdleMb?: number;
  wasmExamplesMb?: number;
  peakMb: number;
}

export interface MemoryReport {
  node: string;
  nodeFloorMb: number;
  importsFloorMb: number;
  pgliteFreshFloorMb: number;
  pgliteReopenFloorMb: number;
  /** The same, opened as the server opens it (src/storage/pglite.ts: its settings, e.g. shared_buffers). */
  pgliteServerFreshFloorMb: number;
  pgliteServerReopenFloorMb: number;
  results: StoreResult[];
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const store = get('store') ?? 'both';
  if (!['postgres', 'pglite', 'both'].includes(store)) throw new Error(`--store must be postgres, pglite or both, got '${store}'`);
  return {
    stores: store === 'both' ? ['postgres', 'pglite'] : [store as 'postgres' | 'pglite'],
    examples: (get('examples') ?? 'on') === 'on',
    port: Number(get('port') ?? 18300),
    settleMs: Number(get('settle') ?? 3) * 1000,
    entry: get('entry') ?? 'dist/src/main.js',
  };
}

function status(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/**
 * RSS of the process's largest mapping: on PGlite, the WebAssembly linear memory (PostgreSQL's heap,
 * shared buffers and catalog caches), which is one reservation of several GB of which only touched
 * pages count. The rest of the RSS is Node's (V8 heap, code, native allocations).
 */
function largestMappingMb(pid: number): number {
  let best = 0;
  let current = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      best = Math.max(best, current);
      current = 0;
    } else {
      const m = /^Rss:\s+(\d+) kB/.exec(line);
      if (m) current = Number(m[1]);
    }
  }
  return Math.max(best, current) / 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (mb: number): number => Math.round(mb);

/** RSS once the process has been quiet for a while (lazy frees and GC settle). */
async function settledRss(pid: number): Promise<number> {
  await sleep(SETTLE_MS);
  return status(pid).rss;
}

/** A Node child running `code` (an ES module) that prints 'ready' and then idles. */
async function floorOf(code: string): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${code}\nconsole.log('ready'); setInterval(() => {}, 1000);`], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (c) => reject(new Error(`floor process exited ${c}`)));
    });
    return await settledRss(child.pid ?? 0);
  } finally {
    child.kill('SIGKILL');
  }
}

async function startServer(env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, ENTRY)], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', CONCORD_AUTH: 'off', LOG_LEVEL: 'warn', MAX_BODY_BYTES: String(64 * 1024 * 1024), MAX_BUNDLE_ENTRIES: String(BATCH_ENTRIES) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('server not ready within 180 s');
    await sleep(200);
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(30_000).then(() => child.kill('SIGKILL'))]);
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? { accept: FHIR_JSON } : { 'content-type': FHIR_JSON, accept: FHIR_JSON },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  if (res.status >= 500) throw new Error(`${method} ${path}: ${res.status}`);
  return res.json();
}

/** The fixed warm-up: every request kind a typical client uses, over a handful of resource types. */
async function warmUp(base: string): Promise<void> {
  await call(base, 'GET', '/metadata');
  for (let i = 0; i < 20; i++) {
    const patient = (await call(base, 'POST', '/Patient', { resourceType: 'Patient', name: [{ family: `Mem${i}`, given: ['Bench'] }], gender: 'female', birthDate: '1950-01-01' })) as { id: string };
    await call(base, 'GET', `/Patient/${patient.id}`);
    await call(base, 'POST', '/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${patient.id}` },
      valueQuantity: { value: 70 + i, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    });
    await call(base, 'POST', '/Encounter', { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${patient.id}` } });
  }
  await call(base, 'GET', '/Patient?name=Mem&_count=50');
  await call(base, 'GET', '/Observation?code=http://loinc.org|8867-4&_include=Observation:subject');
  await call(base, 'GET', '/Encounter?status=finished&_sort=-_lastUpdated');
  await call(base, 'POST', '/Patient/$validate', { resourceType: 'Patient', gender: 'nonsense' });
  await call(base, 'POST', '/Condition/$validate', { resourceType: 'Condition', subject: { reference: 'Patient/x' }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] } });
}

async function loadExamples(base: string): Promise<void> {
  const dir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && f !== 'package.json')
    .sort();
  let batch: string[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await call(base, 'POST', '', `{"resourceType":"Bundle","type":"batch","entry":[${batch.join(',')}]}`);
    batch = [];
    bytes = 0;
  };
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    const r = JSON.parse(text) as { resourceType: string; id: string };
    if (batch.length > 0 && (batch.length >= BATCH_ENTRIES || bytes + text.length > BATCH_BYTES)) await flush();
    batch.push(`{"resource":${text},"request":{"method":"PUT","url":${JSON.stringify(`${r.resourceType}/${r.id}`)}}}`);
    bytes += text.length;
  }
  await flush();
}

async function measureStore(store: 'postgres' | 'pglite', options: Options, port: number): Promise<StoreResult> {
  let env: NodeJS.ProcessEnv;
  let cleanup: () => Promise<void>;
  if (store === 'postgres') {
    const admin = databaseUrlFromEnv();
    const name = `mem_bench_${randomBytes(4).toString('hex')}`;
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
    const url = new URL(admin);
    url.pathname = `/${name}`;
    env = { DATABASE_URL: url.toString() };
    cleanup = async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'concord-mem-'));
    env = { DATABASE_URL: '', CONCORD_DATA_DIR: dir };
    cleanup = () => Promise.resolve(rmSync(dir, { recursive: true, force: true }));
  }
  const child = await startServer(env, port);
  try {
    const pid = child.pid ?? 0;
    const idleMb = await settledRss(pid);
    const wasmIdleMb = store === 'pglite' ? largestMappingMb(pid) : undefined;
    const base = `http://127.0.0.1:${port}/fhir`;
    await warmUp(base);
    const warmMb = await settledRss(pid);
    let examplesMb: number | undefined;
    if (options.examples) {
      await loadExamples(base);
      examplesMb = await settledRss(pid);
    }
    const wasmExamplesMb = store === 'pglite' && examplesMb !== undefined ? largestMappingMb(pid) : undefined;
    const peakMb = status(pid).hwm;
    const result: StoreResult = { store, idleMb: round(idleMb), warmMb: round(warmMb), peakMb: round(peakMb) };
    if (examplesMb !== undefined) result.examplesMb = round(examplesMb);
    if (wasmIdleMb !== undefined) result.wasmIdleMb = round(wasmIdleMb);
    if (wasmExamplesMb !== undefined) result.wasmExamplesMb = round(wasmExamplesMb);
    if (store === 'pglite') {
      await stopServer(child);
      const again = await startServer(env, port);
      try {
        result.restartIdleMb = round(await settledRss(again.pid ?? 0));
      } finally {
        await stopServer(again);
      }
    }
    return result;
  } finally {
    await stopServer(child);
    await cleanup();
  }
}

export async function runMemory(argv: string[]): Promise<MemoryReport> {
  const options = parseArgs(argv);
  SETTLE_MS = options.settleMs;
  ENTRY = options.entry;
  const nodeFloorMb = await floorOf('');
  // Everything the server imports at start-up, without starting it or loading the R4 definitions.
  const importsFloorMb = await floorOf(`await import(${JSON.stringify(join(ROOT, 'dist/src/server.js'))});`);
  // PGlite as the server opens it (same extensions): on a fresh directory (initdb runs) and reopened.
  const pgliteDir = mkdtempSync(join(tmpdir(), 'concord-pglite-floor-'));
  const pglite = `import { PGlite } from '@electric-sql/pglite'; import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
     import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
     const db = await PGlite.create({ dataDir: ${JSON.stringify(pgliteDir)}, extensions: { btree_gist, pg_trgm } }); await db.query('select 1');`;
  const pgliteFreshFloorMb = await floorOf(pglite);
  const pgliteReopenFloorMb = await floorOf(pglite);
  rmSync(pgliteDir, { recursive: true, force: true });
  const serverDir = mkdtempSync(join(tmpdir(), 'concord-pglite-floor-'));
  const asServer = `const { openPglite } = await import(${JSON.stringify(join(ROOT, dirname(dirname(ENTRY)), 'src/storage/pglite.js'))});
     const db = await openPglite(${JSON.stringify(serverDir)}); await db.query('select 1');`;
  const pgliteServerFreshFloorMb = await floorOf(asServer);
  const pgliteServerReopenFloorMb = await floorOf(asServer);
  rmSync(serverDir, { recursive: true, force: true });
  const results: StoreResult[] = [];
  let port = options.port;
  for (const store of options.stores) results.push(await measureStore(store, options, port++));
  return { node: process.version, nodeFloorMb: round(nodeFloorMb), importsFloorMb: round(importsFloorMb), pgliteFreshFloorMb: round(pgliteFreshFloorMb), pgliteReopenFloorMb: round(pgliteReopenFloorMb), pgliteServerFreshFloorMb: round(pgliteServerFreshFloorMb), pgliteServerReopenFloorMb: round(pgliteServerReopenFloorMb), results };
}

export function renderMarkdown(report: MemoryReport, command: string): string {
  const rows = report.results.map((r) => `| ${r.store} | ${r.idleMb} | ${r.warmMb} | ${r.examplesMb ?? '-'} | ${r.restartIdleMb ?? '-'} | ${r.peakMb} |`);
  return [
    '## Memory (RSS)',
    '',
    '```',
    command,
    '```',
    '',
    `Node ${report.node}; RSS in MB from /proc/<pid>/status, ${SETTLE_MS / 1000} s after each phase.`,
    '',
    '| store | idle after start | after warm-up | after all R4 examples | idle after restart | peak (VmHWM) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    ...report.results.filter((r) => r.wasmIdleMb !== undefined).map((r) => `PGlite's WASM memory (the largest mapping's RSS): ${r.wasmIdleMb} MB idle after start, ${r.wasmExamplesMb ?? '-'} MB after the examples.`),
    '',
    `Floors: bare Node ${report.nodeFloorMb} MB; Node + the server's imports (no definitions loaded) ${report.importsFloorMb} MB; bare PGlite with the server's extensions (Node + one \`select 1\`) ${report.pgliteFreshFloorMb} MB on a fresh directory (initdb), ${report.pgliteReopenFloorMb} MB reopened; opened as the server opens it (src/storage/pglite.ts) ${report.pgliteServerFreshFloorMb} MB fresh, ${report.pgliteServerReopenFloorMb} MB reopened.`,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const report = await runMemory(process.argv.slice(2));
  process.stdout.write(`${renderMarkdown(report, `npx tsx bench/memory.ts ${process.argv.slice(2).join(' ')}`.trim())}\n`);
}

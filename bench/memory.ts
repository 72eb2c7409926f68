// Memory benchmark: starts the built server (`node dist/src/main.js`, run `npm run build` first) as a child
// process on each store and reads its resident set size (VmRSS, /proc/<pid>/status; Linux only) when idle
// after start-up, after a fixed warm-up (creates, reads, searches, $validate, capability statement) and,
// on both stores, after loading every official R4 example (hl7.fhir.r4.examples, batch Bundles of 50 PUTs).
// It also measures the floors: a bare Node process and a bare PGlite instance, and on PGlite the floor with
// the same data: PGlite opened as the server opens it (src/storage/pglite.ts) on a fresh directory, the
// server's migrations applied, and the 5,306 examples written into resource/resource_version by plain SQL
// in transactions of 50 (what the server's batch load writes, minus its search-index and audit rows).
// --breakdown on takes the RSS apart when idle and after the examples: /proc/<pid>/smaps by mapping (the node
// binary, glibc's main malloc arena [heap], the per-thread malloc arenas, PGlite's WASM memory, the rest
// of the anonymous memory: V8's heap pages, thread stacks) and V8's own figures from inside the server
// (process.memoryUsage, v8.getHeapSpaceStatistics; a small module loaded with --import only in this mode).
// It also reads the RSS once more 30 s after the examples, when V8's memory reducer has run.
//   npx tsx bench/memory.ts [--store postgres|pglite|both] [--examples on|off] [--settle 3] [--breakdown off|on] [--port 18300]
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
  /** --breakdown on: take the RSS apart after each phase (smaps by mapping, V8's figures from inside). */
  breakdown: boolean;
}

/** Where the RSS of the server is, in MB, at one phase (see the header). */
export interface Breakdown {
  phase: string;
  rssMb: number;
  /** The node executable's mapped pages. */
  binaryMb: number;
  /** Other file-backed mappings (shared libraries, native add-ons). */
  filesMb: number;
  /** glibc's main malloc arena (the brk heap, [heap]): the main thread's native allocations. */
  mainArenaMb: number;
  /** glibc's per-thread malloc arenas (64 MB-aligned anonymous heaps): V8's background threads, workers. */
  threadArenasMb: number;
  threadArenas: number;
  /** PGlite's WebAssembly memory (the largest mapping; embedded store only). */
  wasmMb: number;
  /** The rest of the anonymous memory: V8's heap pages, code, thread stacks. */
  otherAnonMb: number;
  /** From inside the server: V8's committed heap, what is in use (live plus not yet collected), new space, large objects, external memory. */
  v8?: { heapTotalMb: number; heapUsedMb: number; newSpaceMb: number; oldSpaceMb: number; largeObjectsMb: number; externalMb: number };
  threads: number;
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
  /** RSS 30 s after the examples (breakdown mode), when V8's memory reducer has had its turn. */
  examplesLateMb?: number;
  /** The server's CPU seconds (user + system, all its threads) and the wall seconds of loading the examples. */
  examplesCpuS?: number;
  examplesWallS?: number;
  peakMb: number;
  breakdown?: Breakdown[];
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
  /** PGlite opened as the server opens it on a fresh directory, migrated, the examples written by plain SQL (RSS, and its WASM memory). */
  pgliteDataFloorMb?: number;
  pgliteDataFloorWasmMb?: number;
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
    breakdown: (get('breakdown') ?? 'off') === 'on',
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

const MB64 = 64n * 1024n * 1024n;

/** Groups /proc/<pid>/smaps by what the mapping is (see Breakdown). */
function mappings(pid: number, wasm: boolean): Omit<Breakdown, 'phase' | 'rssMb' | 'v8' | 'threads'> {
  interface Mapping { start: bigint; end: bigint; name: string; rss: number }
  const maps: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), name: head[3] ?? '', rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    const last = maps[maps.length - 1];
    if (rss && last) last.rss = Number(rss[1]) / 1024;
  }
  const largest = wasm ? maps.reduce((a, b) => (b.rss > a.rss ? b : a)) : undefined;
  const out = { binaryMb: 0, filesMb: 0, mainArenaMb: 0, threadArenasMb: 0, threadArenas: 0, wasmMb: 0, otherAnonMb: 0 };
  for (const m of maps) {
    if (m === largest) out.wasmMb += m.rss;
    else if (m.name.startsWith('/')) {
      if (m.name === process.execPath || m.name.endsWith('/bin/node')) out.binaryMb += m.rss;
      else out.filesMb += m.rss;
    } else if (m.name === '[heap]') out.mainArenaMb += m.rss;
    // A glibc thread arena is a heap reserved at a 64 MB boundary, at most 64 MB long (HEAP_MAX_SIZE).
    else if (m.name === '' && m.start % MB64 === 0n && m.end - m.start <= MB64 && m.rss > 0) {
      out.threadArenasMb += m.rss;
      out.threadArenas++;
    } else out.otherAnonMb += m.rss;
  }
  return out;
}

// Loaded into the server with --import in breakdown mode only: on SIGUSR2 it writes V8's figures to the
// file named by CONCORD_MEM_PROBE. It changes nothing else (no GC is forced).
const PROBE = `import v8 from 'node:v8'; import { writeFileSync } from 'node:fs';
process.on('SIGUSR2', () => { const m = process.memoryUsage();
  writeFileSync(process.env.CONCORD_MEM_PROBE, JSON.stringify({ heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external,
    spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size])) })); });`;

async function breakdownOf(pid: number, phase: string, rssMb: number, wasm: boolean, probeFile: string): Promise<Breakdown> {
  const threads = Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const result: Breakdown = { phase, rssMb, ...mappings(pid, wasm), threads };
  rmSync(probeFile, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    let text: string;
    try {
      text = readFileSync(probeFile, 'utf8');
    } catch {
      continue;
    }
    const v = JSON.parse(text) as { heapTotal: number; heapUsed: number; external: number; spaces: Record<string, number> };
    const mb = (n: number | undefined): number => (n ?? 0) / 1048576;
    result.v8 = {
      heapTotalMb: mb(v.heapTotal),
      heapUsedMb: mb(v.heapUsed),
      newSpaceMb: mb(v.spaces.new_space),
      oldSpaceMb: mb(v.spaces.old_space),
      largeObjectsMb: mb(v.spaces.large_object_space) + mb(v.spaces.new_large_object_space),
      externalMb: mb(v.external),
    };
    break;
  }
  return result;
}

/** CPU seconds (user + system) the process has used so far (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // After the command name: field 14 (utime) and 15 (stime) of proc(5) are at 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (mb: number): number => Math.round(mb);

/** RSS once the process has been quiet for a while (lazy frees and GC settle). */
async function settledRss(pid: number): Promise<number> {
  await sleep(SETTLE_MS);
  return status(pid).rss;
}

/** A Node child running `code` (an ES module) that prints 'ready' and then idles: its settled RSS. */
async function floorOf(code: string): Promise<number> {
  return (await floorWithWasm(code)).rss;
}

async function floorWithWasm(code: string): Promise<{ rss: number; wasm: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${code}\nconsole.log('ready'); setInterval(() => {}, 1000);`], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (c) => reject(new Error(`floor process exited ${c}`)));
    });
    const rss = await settledRss(child.pid ?? 0);
    return { rss, wasm: largestMappingMb(child.pid ?? 0) };
  } finally {
    child.kill('SIGKILL');
  }
}

async function startServer(env: NodeJS.ProcessEnv, port: number, nodeArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, ENTRY)], {
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

const examplesDir = (): string => dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

async function loadExamples(base: string): Promise<void> {
  const dir = examplesDir();
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
  const probeFile = join(tmpdir(), `concord-mem-probe-${randomBytes(4).toString('hex')}.json`);
  const probeArgs = options.breakdown ? ['--import', `data:text/javascript,${encodeURIComponent(PROBE)}`] : [];
  const child = await startServer(options.breakdown ? { ...env, CONCORD_MEM_PROBE: probeFile } : env, port, probeArgs);
  const breakdown: Breakdown[] = [];
  const take = async (phase: string, rssMb: number): Promise<void> => {
    if (options.breakdown) breakdown.push(await breakdownOf(child.pid ?? 0, phase, rssMb, store === 'pglite', probeFile));
  };
  try {
    const pid = child.pid ?? 0;
    const idleMb = await settledRss(pid);
    await take('idle after start', idleMb);
    const wasmIdleMb = store === 'pglite' ? largestMappingMb(pid) : undefined;
    const base = `http://127.0.0.1:${port}/fhir`;
    await warmUp(base);
    const warmMb = await settledRss(pid);
    let examplesMb: number | undefined;
    let examplesLateMb: number | undefined;
    let examplesCpuS: number | undefined;
    let examplesWallS: number | undefined;
    if (options.examples) {
      const cpu0 = cpuSeconds(pid);
      const wall0 = Date.now();
      await loadExamples(base);
      examplesCpuS = cpuSeconds(pid) - cpu0;
      examplesWallS = (Date.now() - wall0) / 1000;
      examplesMb = await settledRss(pid);
      await take('after all R4 examples', examplesMb);
    }
    const wasmExamplesMb = store === 'pglite' && examplesMb !== undefined ? largestMappingMb(pid) : undefined;
    if (options.examples && options.breakdown) {
      await sleep(30_000);
      examplesLateMb = status(pid).rss;
      await take('30 s later', examplesLateMb);
    }
    const peakMb = status(pid).hwm;
    const result: StoreResult = { store, idleMb: round(idleMb), warmMb: round(warmMb), peakMb: round(peakMb) };
    if (examplesLateMb !== undefined) result.examplesLateMb = round(examplesLateMb);
    if (examplesCpuS !== undefined) result.examplesCpuS = Math.round(examplesCpuS * 10) / 10;
    if (examplesWallS !== undefined) result.examplesWallS = Math.round(examplesWallS * 10) / 10;
    if (breakdown.length > 0) result.breakdown = breakdown;
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
    rmSync(probeFile, { force: true });
  }
}

/**
 * The floor with the same data: PGlite opened exactly as the server opens it, on a fresh directory (initdb
 * runs, as in the server's run), the server's migrations applied, then every example written into
 * resource and resource_version by plain SQL, 50 per transaction, as the server's batch PUTs write them.
 * It leaves out what the server writes besides (search-index, audit and coordination rows), so it is a
 * lower bound of what PGlite needs for this data.
 */
async function pgliteDataFloor(): Promise<{ rss: number; wasm: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'concord-pglite-data-floor-'));
  const built = join(ROOT, dirname(dirname(ENTRY)), 'src/storage');
  const sql = `WITH r AS (
      INSERT INTO resource (resource_type, id, version_id, last_updated, content) VALUES ($1, $2, 1, now(), $3)
      ON CONFLICT (resource_type, id) DO UPDATE SET version_id = resource.version_id + 1, last_updated = now(), content = EXCLUDED.content
      RETURNING rid, version_id)
    INSERT INTO resource_version (rid, resource_type, id, version_id, last_updated, method, content) SELECT rid, $1, $2, version_id, now(), 'PUT', $3 FROM r`;
  const code = `import { readFileSync, readdirSync } from 'node:fs';
     const { openPglite } = await import(${JSON.stringify(join(built, 'pglite.js'))});
     const { migrate } = await import(${JSON.stringify(join(built, 'migrate.js'))});
     const db = await openPglite(${JSON.stringify(dir)});
     await migrate(db);
     const dir = ${JSON.stringify(examplesDir())};
     const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'package.json').sort();
     for (let i = 0; i < files.length; i += ${BATCH_ENTRIES}) {
       await db.transaction(async (tx) => {
         for (const f of files.slice(i, i + ${BATCH_ENTRIES})) {
           const text = readFileSync(dir + '/' + f, 'utf8');
           const { resourceType, id } = JSON.parse(text);
           await tx.query(${JSON.stringify(sql)}, [resourceType, id, text]);
         }
       });
     }`;
  try {
    return await floorWithWasm(code);
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
  const dataFloor = options.examples && options.stores.includes('pglite') ? await pgliteDataFloor() : undefined;
  const results: StoreResult[] = [];
  let port = options.port;
  for (const store of options.stores) results.push(await measureStore(store, options, port++));
  const report: MemoryReport = { node: process.version, nodeFloorMb: round(nodeFloorMb), importsFloorMb: round(importsFloorMb), pgliteFreshFloorMb: round(pgliteFreshFloorMb), pgliteReopenFloorMb: round(pgliteReopenFloorMb), pgliteServerFreshFloorMb: round(pgliteServerFreshFloorMb), pgliteServerReopenFloorMb: round(pgliteServerReopenFloorMb), results };
  if (dataFloor) {
    report.pgliteDataFloorMb = round(dataFloor.rss);
    report.pgliteDataFloorWasmMb = round(dataFloor.wasm);
  }
  return report;
}

export function renderMarkdown(report: MemoryReport, command: string): string {
  const rows = report.results.map((r) => `| ${r.store} | ${r.idleMb} | ${r.warmMb} | ${r.examplesMb ?? '-'} | ${r.examplesLateMb ?? '-'} | ${r.restartIdleMb ?? '-'} | ${r.peakMb} | ${r.examplesCpuS ?? '-'} / ${r.examplesWallS ?? '-'} |`);
  return [
    '## Memory (RSS)',
    '',
    '```',
    command,
    '```',
    '',
    `Node ${report.node}; RSS in MB from /proc/<pid>/status, ${SETTLE_MS / 1000} s after each phase.`,
    '',
    '| store | idle after start | after warm-up | after all R4 examples | 30 s later (breakdown mode) | idle after restart | peak (VmHWM) | loading the examples: server CPU s / wall s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...report.results.filter((r) => r.wasmIdleMb !== undefined).map((r) => `PGlite's WASM memory (the largest mapping's RSS): ${r.wasmIdleMb} MB idle after start, ${r.wasmExamplesMb ?? '-'} MB after the examples.`),
    '',
    ...(report.pgliteDataFloorMb === undefined
      ? []
      : [
          `Floor with the same data: PGlite opened as the server opens it on a fresh directory, migrated, the ${'5,306'} examples written into resource/resource_version by plain SQL (50 per transaction): ${report.pgliteDataFloorMb} MB, of which WASM memory ${report.pgliteDataFloorWasmMb} MB.`,
          '',
        ]),
    ...report.results.flatMap((r) => (r.breakdown ? breakdownTable(r) : [])),
    `Floors: bare Node ${report.nodeFloorMb} MB; Node + the server's imports (no definitions loaded) ${report.importsFloorMb} MB; bare PGlite with the server's extensions (Node + one \`select 1\`) ${report.pgliteFreshFloorMb} MB on a fresh directory (initdb), ${report.pgliteReopenFloorMb} MB reopened; opened as the server opens it (src/storage/pglite.ts) ${report.pgliteServerFreshFloorMb} MB fresh, ${report.pgliteServerReopenFloorMb} MB reopened.`,
    '',
  ].join('\n');
}

function breakdownTable(r: StoreResult): string[] {
  const f = (n: number | undefined): string => (n === undefined ? '-' : String(Math.round(n)));
  return [
    `Breakdown on ${r.store} (MB; V8 figures from inside the server, no GC forced):`,
    '',
    '| phase | RSS | node binary | other files | main malloc arena | thread arenas (n) | WASM | other anon | V8 heap committed | V8 in use | new space | old space | large objects | external | threads |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...(r.breakdown ?? []).map(
      (b) =>
        `| ${b.phase} | ${f(b.rssMb)} | ${f(b.binaryMb)} | ${f(b.filesMb)} | ${f(b.mainArenaMb)} | ${f(b.threadArenasMb)} (${b.threadArenas}) | ${f(b.wasmMb)} | ${f(b.otherAnonMb)} | ${f(b.v8?.heapTotalMb)} | ${f(b.v8?.heapUsedMb)} | ${f(b.v8?.newSpaceMb)} | ${f(b.v8?.oldSpaceMb)} | ${f(b.v8?.largeObjectsMb)} | ${f(b.v8?.externalMb)} | ${b.threads} |`,
    ),
    '',
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const report = await runMemory(process.argv.slice(2));
  process.stdout.write(`${renderMarkdown(report, `npx tsx bench/memory.ts ${process.argv.slice(2).join(' ')}`.trim())}\n`);
}

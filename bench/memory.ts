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
// --floor replay (embedded store, with the examples) measures the exact floor PGlite imposes for this load
// (bench/pglite-replay.ts): the server's run is recorded once, message by message, then replayed into PGlite
// opened as the server opens it in --runs fresh processes; the server is measured --runs times beside it.
// --recording <file> keeps the recording (or replays one kept before); --server-runs 0 measures the floors only.
// The server is launched as `npm start` launches it (malloc arenas, V8's young generation); --semi-space
// <MB|default> launches it with another --max-semi-space-size, or none, to compare.
//   npx tsx bench/memory.ts [--store postgres|pglite|both] [--examples on|off] [--settle 3] [--breakdown off|on] [--floor data|replay] [--runs 1] [--server-runs N] [--recording file] [--port 18300] [--semi-space 8|default]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { databaseUrlFromEnv } from './concord-process.js';
import { builtStorage, hookArgs, recordingSize, removeQuietly, replaySource } from './pglite-replay.js';
import { npmStartLaunch } from './npm-start-launch.js';

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
  /** --floor replay: the embedded floor is the server's recorded workload replayed into bare PGlite (see the header). */
  floor: 'data' | 'replay';
  /** --runs: how many times (replay mode) the floor and the server are each measured. */
  runs: number;
  /** --server-runs: replay mode, server runs beside the floors (default --runs; 0 = floors only). */
  serverRuns: number;
  /** --recording <file>: replay mode, replay this recording if it exists, else record into it; kept either way. */
  recording?: string;
  /** --semi-space: the server's --max-semi-space-size in MB, or 'default' for V8's own (launch as `npm start` when not given). */
  semiSpace?: string;
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
  /** PGlite's WebAssembly memory: resident pages of the wasm memory mappings (embedded store only), and how many there are. */
  wasmMb: number;
  wasmMemories: number;
  /** The rest of the anonymous memory: V8's heap pages, code, thread stacks. */
  otherAnonMb: number;
  /** From inside the server: V8's committed heap, what is in use (live plus not yet collected), new space, large objects, external memory. */
  v8?: { heapTotalMb: number; heapUsedMb: number; newSpaceMb: number; oldSpaceMb: number; largeObjectsMb: number; externalMb: number; arrayBuffersMb: number };
  /** PGlite's WASM memory size (memory.buffer.byteLength; reserved and grown, touched or not), MB. */
  wasmBytesMb?: number;
  threads: number;
}

export interface StoreResult {
  store: 'postgres' | 'pglite';
  idleMb: number;
  warmMb: number;
  examplesMb?: number;
  /** PGlite: idle RSS after a restart on the same data directory (no initdb). */
  restartIdleMb?: number;
  /** PGlite: RSS of the WASM memory mappings idle after start, and after the examples. */
  wasmIdleMb?: number;
  wasmExamplesMb?: number;
  /** RSS 30 s after the examples (breakdown mode), when V8's memory reducer has had its turn. */
  examplesLateMb?: number;
  /** The server's CPU seconds (user + system, all its threads) and the wall seconds of loading the examples. */
  examplesCpuS?: number;
  examplesWallS?: number;
  peakMb: number;
  breakdown?: Breakdown[];
  /** Replay mode: the probe's reading right after the examples (WASM memory size, V8's figures). */
  examplesProbe?: Breakdown;
  /** Replay mode: after that reading, two forced full GCs, then the same figures. */
  examplesGc?: Breakdown;
}

/** One replay floor process: RSS after the same settle, its WASM mapping's RSS, and the probe's figures. */
export interface ReplayFloor {
  rssMb: number;
  wasmRssMb: number;
  probe: Breakdown;
  /** The same after two forced full GCs. */
  gc: Breakdown;
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
  /** Replay mode: the recording (messages, MB) and each floor process. */
  recording?: { messages: number; mb: number };
  replayFloors?: ReplayFloor[];
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
    floor: get('floor') === 'replay' ? 'replay' : 'data',
    runs: Math.max(1, Number(get('runs') ?? 1)),
    serverRuns: Number(get('server-runs') ?? get('runs') ?? 1),
    ...(get('recording') ? { recording: get('recording') } : {}),
    ...(get('semi-space') ? { semiSpace: get('semi-space') } : {}),
  };
}

function status(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

const MB64 = 64n * 1024n * 1024n;
const GB = 1024n * 1024n * 1024n;

interface Mapping { start: bigint; end: bigint; perms: string; name: string; rss: number }

function readMappings(pid: number): Mapping[] {
  const maps: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3] ?? '', name: head[4] ?? '', rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    const last = maps[maps.length - 1];
    if (rss && last) last.rss = Number(rss[1]) / 1024;
  }
  return maps;
}

/**
 * The mappings of WebAssembly memories (PGlite's: PostgreSQL's heap, shared buffers, catalog caches). V8
 * reserves each as one region of ~10 GB (the 4 GB a wasm32 address can reach plus guard pages, so bounds
 * checks are free) and makes only the memory's current size accessible: a read-write anonymous mapping
 * directly followed by the rest of the reservation, inaccessible and larger than 1 GB. Only its touched
 * pages count in the RSS. (Not "the largest mapping": glibc's [heap] is often larger.)
 */
function wasmMappings(maps: Mapping[]): Set<Mapping> {
  const out = new Set<Mapping>();
  maps.forEach((m, i) => {
    const next = maps[i + 1];
    if (m.name === '' && m.perms.startsWith('rw') && next && next.start === m.end && next.perms.startsWith('---') && next.end - next.start > GB) out.add(m);
  });
  return out;
}

/** RSS of PGlite's WebAssembly memory (all wasm memories: initdb's are garbage until V8 collects them). */
function wasmRssMb(pid: number): number {
  let mb = 0;
  for (const m of wasmMappings(readMappings(pid))) mb += m.rss;
  return mb;
}

/** Groups /proc/<pid>/smaps by what the mapping is (see Breakdown). */
function mappings(pid: number, wasm: boolean): Omit<Breakdown, 'phase' | 'rssMb' | 'v8' | 'threads'> {
  const maps = readMappings(pid);
  const wasmMaps = wasm ? wasmMappings(maps) : new Set<Mapping>();
  const out = { binaryMb: 0, filesMb: 0, mainArenaMb: 0, threadArenasMb: 0, threadArenas: 0, wasmMb: 0, wasmMemories: wasmMaps.size, otherAnonMb: 0 };
  for (const m of maps) {
    if (wasmMaps.has(m)) out.wasmMb += m.rss;
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

// The probe (bench/pglite-replay.ts hookSource) is loaded into the server with --import in breakdown and
// replay modes only: on SIGUSR2 it writes V8's figures and PGlite's WASM memory size to the file named by
// CONCORD_MEM_PROBE. It changes nothing else (no GC is forced).
async function breakdownOf(pid: number, phase: string, rssMb: number, wasm: boolean, probeFile: string, signal: NodeJS.Signals = 'SIGUSR2'): Promise<Breakdown> {
  const threads = Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const result: Breakdown = { phase, rssMb, ...mappings(pid, wasm), threads };
  rmSync(probeFile, { force: true });
  process.kill(pid, signal);
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    let text: string;
    try {
      text = readFileSync(probeFile, 'utf8');
    } catch {
      continue;
    }
    const v = JSON.parse(text) as { heapTotal: number; heapUsed: number; external: number; arrayBuffers: number; wasmBytes?: number; spaces: Record<string, number> };
    const mb = (n: number | undefined): number => (n ?? 0) / 1048576;
    result.v8 = {
      heapTotalMb: mb(v.heapTotal),
      heapUsedMb: mb(v.heapUsed),
      newSpaceMb: mb(v.spaces.new_space),
      oldSpaceMb: mb(v.spaces.old_space),
      largeObjectsMb: mb(v.spaces.large_object_space) + mb(v.spaces.new_large_object_space),
      externalMb: mb(v.external),
      arrayBuffersMb: mb(v.arrayBuffers),
    };
    if (v.wasmBytes !== undefined) result.wasmBytesMb = mb(v.wasmBytes);
    break;
  }
  if (signal === 'SIGWINCH') Object.assign(result, { rssMb: status(pid).rss, ...mappings(pid, wasm) });
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
    return { rss, wasm: wasmRssMb(child.pid ?? 0) };
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * The server is started as `npm start` starts it (read from package.json, not repeated here): the malloc
 * setting it and the Dockerfile give it (docs/adr/0026; glibc reads it at process start) unless this
 * process's environment names one. The floors keep this process's environment: run the benchmark with
 * MALLOC_ARENA_MAX=2 to measure them with the same setting.
 */
const NPM_START = npmStartLaunch(ROOT);
const LAUNCH_MALLOC = NPM_START.env;
/**
 * V8 flags `npm start` and the Dockerfile give the server (docs/adr/0026: a young generation of 2 x 8 MB
 * instead of V8's 2 x 16 MB, Node 24: 2 x 32 MB). --semi-space <MB|default> launches it otherwise, to compare.
 */
let LAUNCH_NODE_ARGS = NPM_START.nodeArgs;

async function startServer(env: NodeJS.ProcessEnv, port: number, nodeArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...LAUNCH_NODE_ARGS, ...nodeArgs, join(ROOT, ENTRY)], {
    cwd: ROOT,
    env: { ...process.env, ...LAUNCH_MALLOC, ...env, PORT: String(port), HOST: '127.0.0.1', CONCORD_AUTH: 'off', LOG_LEVEL: 'warn', MAX_BODY_BYTES: String(64 * 1024 * 1024), MAX_BUNDLE_ENTRIES: String(BATCH_ENTRIES) },
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

/**
 * Starts the server on a fresh store and reads its RSS after each phase. With `record` (a file; embedded
 * store), the server writes every protocol message it sends to PGlite into that file and is killed right
 * after the reading that follows the examples: the recording is exactly the workload of a measured run.
 */
async function measureStore(store: 'postgres' | 'pglite', options: Options, port: number, record?: string): Promise<StoreResult> {
  const extraEnv: NodeJS.ProcessEnv = record ? { CONCORD_PGLITE_RECORD: record } : {};
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
  const probed = options.breakdown || (options.floor === 'replay' && store === 'pglite');
  const child = await startServer(probed ? { ...env, CONCORD_MEM_PROBE: probeFile, ...extraEnv } : { ...env, ...extraEnv }, port, probed ? hookArgs(ROOT) : []);
  const breakdown: Breakdown[] = [];
  const take = async (phase: string, rssMb: number): Promise<void> => {
    if (options.breakdown) breakdown.push(await breakdownOf(child.pid ?? 0, phase, rssMb, store === 'pglite', probeFile));
  };
  try {
    const pid = child.pid ?? 0;
    const idleMb = await settledRss(pid);
    await take('idle after start', idleMb);
    const wasmIdleMb = store === 'pglite' ? wasmRssMb(pid) : undefined;
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
    const examplesProbe =
      probed && examplesMb !== undefined ? (breakdown.find((b) => b.phase === 'after all R4 examples') ?? (await breakdownOf(pid, 'after all R4 examples', examplesMb, store === 'pglite', probeFile))) : undefined;
    const wasmExamplesMb = store === 'pglite' && examplesMb !== undefined ? wasmRssMb(pid) : undefined;
    // Replay mode: the same after full collections (what is held, garbage apart); nothing is read after it.
    const examplesGc = probed && !options.breakdown && examplesMb !== undefined ? await breakdownOf(pid, 'after a forced GC', 0, store === 'pglite', probeFile, 'SIGWINCH') : undefined;
    if (options.examples && options.breakdown && !record) {
      await sleep(30_000);
      examplesLateMb = status(pid).rss;
      await take('30 s later', examplesLateMb);
    }
    const peakMb = status(pid).hwm;
    if (record) {
      child.kill('SIGKILL');
      await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
    }
    const result: StoreResult = { store, idleMb: round(idleMb), warmMb: round(warmMb), peakMb: round(peakMb) };
    if (examplesLateMb !== undefined) result.examplesLateMb = round(examplesLateMb);
    if (examplesCpuS !== undefined) result.examplesCpuS = Math.round(examplesCpuS * 10) / 10;
    if (examplesWallS !== undefined) result.examplesWallS = Math.round(examplesWallS * 10) / 10;
    if (breakdown.length > 0) result.breakdown = breakdown;
    if (examplesMb !== undefined) result.examplesMb = round(examplesMb);
    if (wasmIdleMb !== undefined) result.wasmIdleMb = round(wasmIdleMb);
    if (wasmExamplesMb !== undefined) result.wasmExamplesMb = round(wasmExamplesMb);
    if (examplesProbe) result.examplesProbe = examplesProbe;
    if (examplesGc) result.examplesGc = examplesGc;
    if (store === 'pglite' && !record) {
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

/**
 * The floor PGlite imposes for the recorded workload: a fresh process (with the same probe the server
 * carries) opens PGlite with the server's openPglite on a fresh directory and replays the recording;
 * after the same settle, its RSS, its WASM mapping's RSS and the probe's figures.
 */
async function replayFloor(recording: string): Promise<ReplayFloor> {
  const dir = mkdtempSync(join(tmpdir(), 'concord-pglite-replay-'));
  const probeFile = join(tmpdir(), `concord-mem-probe-${randomBytes(4).toString('hex')}.json`);
  const code = `${replaySource(builtStorage(ROOT, ENTRY), dir, recording)}\nconsole.log('ready'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, [...hookArgs(ROOT), '--input-type=module', '-e', code], {
    cwd: ROOT,
    env: { ...process.env, CONCORD_MEM_PROBE: probeFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (c) => reject(new Error(`replay process exited ${c}`)));
    });
    const pid = child.pid ?? 0;
    const rss = await settledRss(pid);
    const probe = await breakdownOf(pid, 'replayed', rss, true, probeFile);
    const gc = await breakdownOf(pid, 'after a forced GC', 0, true, probeFile, 'SIGWINCH');
    return { rssMb: rss, wasmRssMb: probe.wasmMb, probe, gc };
  } finally {
    child.kill('SIGKILL');
    removeQuietly(dir);
    removeQuietly(probeFile);
  }
}

export async function runMemory(argv: string[]): Promise<MemoryReport> {
  const options = parseArgs(argv);
  SETTLE_MS = options.settleMs;
  ENTRY = options.entry;
  if (options.semiSpace !== undefined) LAUNCH_NODE_ARGS = options.semiSpace === 'default' ? [] : [`--max-semi-space-size=${Number(options.semiSpace)}`];
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
  const replay = options.floor === 'replay' && options.examples && options.stores.includes('pglite');
  const dataFloor = options.examples && options.stores.includes('pglite') && !replay ? await pgliteDataFloor() : undefined;
  const results: StoreResult[] = [];
  let port = options.port;
  let recording: MemoryReport['recording'];
  let replayFloors: ReplayFloor[] | undefined;
  if (replay) {
    // One recorded run of the server, then the floor and the server measured alternately, so that the
    // machine's load falls on both alike.
    const file = options.recording ?? join(tmpdir(), `concord-pglite-recording-${randomBytes(4).toString('hex')}.bin`);
    try {
      if (!options.recording || !existsSync(file)) await measureStore('pglite', options, port++, file);
      const size = recordingSize(file);
      recording = { messages: size.messages, mb: Math.round(size.bytes / 1048576) };
      replayFloors = [];
      for (let i = 0; i < options.runs; i++) {
        replayFloors.push(await replayFloor(file));
        if (i < options.serverRuns) results.push(await measureStore('pglite', options, port++));
      }
    } finally {
      if (!options.recording) removeQuietly(file);
    }
  }
  for (const store of options.stores) if (!(replay && store === 'pglite')) for (let i = 0; i < options.runs; i++) results.push(await measureStore(store, options, port++));
  const report: MemoryReport = { node: process.version, nodeFloorMb: round(nodeFloorMb), importsFloorMb: round(importsFloorMb), pgliteFreshFloorMb: round(pgliteFreshFloorMb), pgliteReopenFloorMb: round(pgliteReopenFloorMb), pgliteServerFreshFloorMb: round(pgliteServerFreshFloorMb), pgliteServerReopenFloorMb: round(pgliteServerReopenFloorMb), results };
  if (recording) report.recording = recording;
  if (replayFloors) report.replayFloors = replayFloors;
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
    ...report.results.filter((r) => r.wasmIdleMb !== undefined).map((r) => `PGlite's WASM memory (resident pages of its mapping): ${r.wasmIdleMb} MB idle after start, ${r.wasmExamplesMb ?? '-'} MB after the examples.`),
    '',
    ...(report.pgliteDataFloorMb === undefined
      ? []
      : [
          `Floor with the same data: PGlite opened as the server opens it on a fresh directory, migrated, the ${'5,306'} examples written into resource/resource_version by plain SQL (50 per transaction): ${report.pgliteDataFloorMb} MB, of which WASM memory ${report.pgliteDataFloorWasmMb} MB.`,
          '',
        ]),
    ...replayTable(report),
    ...report.results.flatMap((r) => (r.breakdown ? breakdownTable(r) : [])),
    `Floors: bare Node ${report.nodeFloorMb} MB; Node + the server's imports (no definitions loaded) ${report.importsFloorMb} MB; bare PGlite with the server's extensions (Node + one \`select 1\`) ${report.pgliteFreshFloorMb} MB on a fresh directory (initdb), ${report.pgliteReopenFloorMb} MB reopened; opened as the server opens it (src/storage/pglite.ts) ${report.pgliteServerFreshFloorMb} MB fresh, ${report.pgliteServerReopenFloorMb} MB reopened.`,
    '',
  ].join('\n');
}

/** Replay mode: each floor process beside each server run, and the spread of both. */
function replayTable(report: MemoryReport): string[] {
  const floors = report.replayFloors;
  if (!floors || !report.recording) return [];
  const servers = report.results.filter((r) => r.store === 'pglite' && r.examplesMb !== undefined);
  const f = (n: number | undefined): string => (n === undefined ? '-' : String(Math.round(n)));
  const side = (b: Breakdown | undefined): string =>
    `${f(b?.wasmBytesMb)} | ${f(b?.wasmMb)} (${b?.wasmMemories ?? '-'}) | ${f(b?.v8?.heapTotalMb)} | ${f(b?.v8?.externalMb)} / ${f(b?.v8?.arrayBuffersMb)} | ${f(b === undefined ? undefined : b.mainArenaMb + b.threadArenasMb)}`;
  const gcSide = (b: Breakdown | undefined): string => `${f(b?.rssMb)} | ${f(b?.wasmMb)} (${b?.wasmMemories ?? '-'}) | ${f(b?.v8?.heapTotalMb)} | ${f(b === undefined ? undefined : b.mainArenaMb + b.threadArenasMb)}`;
  const spread = (xs: number[]): string => (xs.length === 0 ? '-' : `${f(Math.min(...xs))}-${f(Math.max(...xs))} (spread ${f(Math.max(...xs) - Math.min(...xs))})`);
  const diff = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? '-' : f(a - b));
  return [
    `Floor by replay: the server's run was recorded once (${report.recording.messages.toLocaleString('en-US')} protocol messages, ${report.recording.mb} MB: start-up, warm-up, the examples), then replayed into PGlite opened by the server's openPglite on a fresh directory, in a fresh process each time; floor and server measured alternately, ${SETTLE_MS / 1000} s settle each (MB; WASM size = memory.buffer.byteLength of the store's instance; WASM RSS = resident pages of all wasm memory mappings, (n) of them, initdb's included until collected; malloc = glibc main + thread arenas):`,
    '',
    '| run | who | RSS | WASM size | WASM RSS (n) | V8 heap | external / arrayBuffers | malloc | after 2 forced GCs: RSS | WASM RSS (n) | V8 heap | malloc |',
    '|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
    ...floors.flatMap((fl, i) => {
      const s = servers[i];
      return [
        `| ${i + 1} | floor (replay) | ${f(fl.rssMb)} | ${side(fl.probe)} | ${gcSide(fl.gc)} |`,
        `| ${i + 1} | server | ${f(s?.examplesMb)} | ${side(s?.examplesProbe)} | ${gcSide(s?.examplesGc)} |`,
        `| ${i + 1} | server - floor | ${diff(s?.examplesMb, fl.rssMb)} | | | | | | ${diff(s?.examplesGc?.rssMb, fl.gc.rssMb)} | | | |`,
      ];
    }),
    '',
    `Floor RSS ${spread(floors.map((x) => x.rssMb))} MB, after the forced GCs ${spread(floors.map((x) => x.gc.rssMb))}; server after the examples ${spread(servers.map((x) => x.examplesMb ?? 0))}, after the forced GCs ${spread(servers.map((x) => x.examplesGc?.rssMb ?? 0))}.`,
    '',
  ];
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
  // The figures as data too (stderr), e.g. to re-render or compare runs.
  process.stderr.write(`${JSON.stringify(report)}\n`);
  process.stdout.write(`${renderMarkdown(report, `npx tsx bench/memory.ts ${process.argv.slice(2).join(' ')}`.trim())}\n`);
}

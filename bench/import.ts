// Bulk import throughput: N bench members as NDJSON (bench/import-ndjson.ts), loaded by the import
// (src/import) into a fresh PostgreSQL schema with the coordination rules on. Reports resources/s and
// where the CPU goes (this process incl. its worker threads; the PostgreSQL backends of the pool), and
// the rate those CPU costs allow on this machine's cores when nothing else runs.
//
//   npx tsx bench/import.ts [--members 2000] [--workers N (default: as npm run import)] [--batch 1000] [--rules on|off] [--ahead N]
//   npm run bench -- --suite import [same options]      (rewrites the import section of RESULTS.md)
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { flags } from './args.js';
import { writeMemberNdjson } from './import-ndjson.js';
import { BackendCpu } from './rest-core.js';
import { cpuDelta } from './process-cpu.js';
import { RESOURCES_PER_MEMBER } from './load-members.js';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { importFiles, type BatchPreparer } from '../src/import/importer.js';
import type { BulkWriteTx, ImportStore } from '../src/import/store.js';
import { readLines, type RawLine } from '../src/import/ndjson.js';
import { prepareLine } from '../src/import/prepare.js';
import { validateForWrite } from '../src/fhir/validate-write.js';
import { openPreparePool } from '../src/import/prepare-pool.js';
import { defaultWorkers } from '../src/import/command.js';
import { migrate } from '../src/storage/migrate.js';
import { openPostgres } from '../src/storage/postgres.js';
import { ResourceRepository } from '../src/storage/resource-repository.js';

export interface ImportBenchOptions {
  members: number;
  workers: number;
  batch: number;
  rules: boolean;
  /** Batches prepared ahead of the one being written (undefined: the importer's default). */
  ahead?: number;
  databaseUrl: string;
}

export interface ImportBenchReport {
  options: Omit<ImportBenchOptions, 'databaseUrl'>;
  startedAt: string;
  resources: number;
  rejected: number;
  seconds: number;
  perSecond: number;
  /** CPU per resource (µs): this process (main + worker threads) and the PostgreSQL backends. */
  nodeCpuUs: number;
  /**
   * The process's CPU per resource (µs) by thread (Linux /proc): the main thread, the prepare workers, and
   * V8's own helper threads (parallel and concurrent GC, background compilation).
   */
  threadCpuUs?: { main: number; workers: number; v8Helpers: number };
  pgCpuUs?: number;
  /** CPU per resource (µs) of the per-line work alone, in one thread without the database: all of it, and its validation. */
  prepareCpuUs: number;
  validateCpuUs: number;
  /** Where the pipeline waited (PipelineProbe). */
  pipeline?: PipelineReport;
  cores: number;
  loadBefore: number[];
  loadAfter: number[];
}

export function parseArgs(argv: readonly string[]): ImportBenchOptions {
  const f = flags(argv);
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('the import benchmark needs DATABASE_URL (PostgreSQL)');
  return {
    members: f.num('members', 2000, 1, true),
    // What `npm run import` uses on this machine unless told otherwise, so that a run without --workers
    // measures the command as users run it.
    workers: f.num('workers', defaultWorkers(availableParallelism()), 0, true),
    batch: f.num('batch', 1000, 1, true),
    rules: (f.value('rules') ?? 'on') !== 'off',
    ...(f.value('ahead') !== undefined ? { ahead: f.num('ahead', 1, 1, true) } : {}),
    databaseUrl,
  };
}

export function commandFor(o: ImportBenchOptions): string {
  return `npx tsx bench/import.ts --members ${o.members} --workers ${o.workers} --batch ${o.batch} --rules ${o.rules ? 'on' : 'off'}${o.ahead !== undefined ? ` --ahead ${o.ahead}` : ''}`;
}

export async function runImportBench(o: ImportBenchOptions): Promise<ImportBenchReport> {
  loadDefinitions();
  const dir = join(tmpdir(), `concord-import-bench-${o.members}`);
  const files = await writeMemberNdjson(dir, o.members);
  const schema = `bench_import_${randomBytes(4).toString('hex')}`;
  const applicationName = `concord-import-bench-${process.pid}`;
  const db = await openPostgres({ connectionString: o.databaseUrl, schema, applicationName });
  const before = threadCpu();
  const pool = o.workers > 0 ? openPreparePool(o.workers) : undefined;
  const backends = await BackendCpu.open(o.databaseUrl, applicationName);
  try {
    await migrate(db);
    const repo = new ResourceRepository(db, { readCacheEntries: 0 });
    const loadBefore = loadavg();
    const threadsBefore = threadCpu();
    const cpuBefore = process.cpuUsage();
    const pgBefore = await backends?.snapshot();
    const startedAt = new Date();
    const probe = new PipelineProbe();
    const summary = await importFiles(files, {
      store: probe.store(repo.importStore()),
      rules: o.rules,
      baseUrls: [],
      maxJsonDepth: 64,
      batchSize: o.batch,
      ...(o.ahead !== undefined ? { prepareAhead: o.ahead } : {}),
      ...(pool ? { prepare: probe.preparer(pool.prepare) } : {}),
    });
    const pgAfter = await backends?.snapshot();
    const cpu = process.cpuUsage(cpuBefore);
    const threadsAfter = threadCpu();
    const resources = summary.written + summary.unchanged + summary.rejected;
    const pipeline = probe.report(summary.ms);
    const floor = await prepareFloor(files);
    return {
      options: { members: o.members, workers: o.workers, batch: o.batch, rules: o.rules, ...(o.ahead !== undefined ? { ahead: o.ahead } : {}) },
      startedAt: startedAt.toISOString(),
      resources,
      rejected: summary.rejected,
      seconds: summary.ms / 1000,
      perSecond: resources / (summary.ms / 1000),
      nodeCpuUs: (cpu.user + cpu.system) / resources,
      ...(pgBefore && pgAfter ? { pgCpuUs: cpuDelta(pgBefore, pgAfter) / resources } : {}),
      ...(before && threadsBefore && threadsAfter ? { threadCpuUs: splitThreads(before, threadsBefore, threadsAfter, resources) } : {}),
      ...floor,
      pipeline,
      cores: cpus().length,
      loadBefore,
      loadAfter: loadavg(),
    };
  } finally {
    await backends?.close();
    await pool?.close();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export interface PipelineReport {
  batches: number;
  /** Share of the wall time the main thread spent outside a batch transaction (mostly waiting for a prepared batch). */
  outsideBatchShare: number;
  /** Share of the wall time no preparation was handed out (the preparing thread had nothing to do). */
  preparerStarvedShare: number;
  /** Reads of single resources per batch (each a round trip awaited while judging). */
  readsPerBatch: number;
}

/**
 * Counts where the import's pipeline waits, from outside the importer: the time spent inside batch
 * transactions (the rest is the main thread waiting for preparations, plus bookkeeping), the time no
 * preparation was in flight (a starved preparing thread), and the single-resource reads per batch.
 */
class PipelineProbe {
  private inTx = 0;
  private batches = 0;
  private reads = 0;
  private inFlight = 0;
  private starvedSince = performance.now();
  private starved = 0;
  private readonly started = performance.now();

  store(real: ImportStore): ImportStore {
    return {
      ...real,
      transaction: async (fn) => {
        const t0 = performance.now();
        try {
          return await real.transaction((tx) => {
            const counted = Object.create(tx) as BulkWriteTx;
            counted.read = (type: string, id: string) => {
              this.reads++;
              return tx.read(type, id);
            };
            return fn(counted);
          });
        } finally {
          this.batches++;
          this.inTx += performance.now() - t0;
        }
      },
    };
  }

  preparer(real: BatchPreparer): BatchPreparer {
    return async (lines, options) => {
      if (this.inFlight++ === 0) this.starved += performance.now() - this.starvedSince;
      try {
        return await real(lines, options);
      } finally {
        if (--this.inFlight === 0) this.starvedSince = performance.now();
      }
    };
  }

  report(ms: number): PipelineReport {
    const wall = Math.max(ms, performance.now() - this.started);
    const starved = this.starved + (this.inFlight === 0 ? performance.now() - this.starvedSince : 0);
    return { batches: this.batches, outsideBatchShare: 1 - this.inTx / wall, preparerStarvedShare: starved / wall, readsPerBatch: this.reads / Math.max(1, this.batches) };
  }
}

/** CPU time (µs) of each thread of this process by thread id, from /proc (undefined elsewhere than Linux). */
function threadCpu(): Map<number, number> | undefined {
  try {
    const out = new Map<number, number>();
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime (fields 14 and 15 of stat) in clock ticks of 10 ms.
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * 10_000);
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Threads that existed before the pool opened are the main thread and V8's helpers; later ones are the workers. */
function splitThreads(existing: Map<number, number>, from: Map<number, number>, to: Map<number, number>, resources: number): { main: number; workers: number; v8Helpers: number } {
  const out = { main: 0, workers: 0, v8Helpers: 0 };
  for (const [tid, us] of to) {
    const used = us - (from.get(tid) ?? 0);
    if (tid === process.pid) out.main += used;
    else if (existing.has(tid)) out.v8Helpers += used;
    else out.workers += used;
  }
  return { main: out.main / resources, workers: out.workers / resources, v8Helpers: out.v8Helpers / resources };
}

/** The per-line work (parse, validate, extract) alone, in this thread: what no batching can remove. */
async function prepareFloor(files: readonly string[]): Promise<{ prepareCpuUs: number; validateCpuUs: number }> {
  let prepareUs = 0;
  let validateUs = 0;
  let n = 0;
  for (const file of files) {
    const type = basename(file, '.ndjson');
    const lines: RawLine[] = [];
    for await (const l of readLines(file)) lines.push(l);
    const options = { resourceType: type, maxJsonDepth: 64, baseUrls: [] };
    const before = process.cpuUsage();
    const prepared = lines.map((l) => prepareLine(l.bytes, l.line, l.end, options));
    const mid = process.cpuUsage(before);
    const v0 = process.cpuUsage();
    for (const p of prepared) if (p.ok) validateForWrite(p.resource, type);
    const v = process.cpuUsage(v0);
    prepareUs += mid.user + mid.system;
    validateUs += v.user + v.system;
    n += lines.length;
  }
  return { prepareCpuUs: prepareUs / n, validateCpuUs: validateUs / n };
}

export function renderMarkdown(r: ImportBenchReport, command: string): string {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const pct = (usPerSecond: number): string => `${Math.round(usPerSecond / 1e4)} %`;
  const cpuUs = r.nodeCpuUs + (r.pgCpuUs ?? 0);
  const capacity = (r.cores * 1e6) / cpuUs;
  return [
    `## Bulk import (NDJSON, PostgreSQL, rules ${r.options.rules ? 'on' : 'off'})`,
    '',
    `Run ${r.startedAt}, ${r.options.members} members x ${RESOURCES_PER_MEMBER} resources + the directory, ${r.options.workers} worker thread(s), batches of ${r.options.batch} lines. Reproduce with:`,
    '',
    '```',
    command,
    '```',
    '',
    `The machine was shared with other engineers' builds and tests: load average ${r.loadBefore.map((n) => n.toFixed(1)).join(' / ')} before and ${r.loadAfter.map((n) => n.toFixed(1)).join(' / ')} after, on ${r.cores} cores. Wall-clock rates are therefore a floor; the CPU columns are what each resource costs.`,
    '',
    '| resources | rejected | seconds | resources/s | Node CPU per resource (main + workers) | PostgreSQL CPU per resource | rate that CPU allows on idle cores |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    `| ${fmt(r.resources)} | ${r.rejected} | ${r.seconds.toFixed(1)} | **${fmt(r.perSecond)}** | ${fmt(r.nodeCpuUs)} µs | ${r.pgCpuUs === undefined ? 'n/a' : `${fmt(r.pgCpuUs)} µs`} | ${fmt(capacity)}/s |`,
    '',
    ...(r.threadCpuUs
      ? [
          `By thread (µs of CPU per resource): main ${fmt(r.threadCpuUs.main)}, prepare workers ${fmt(r.threadCpuUs.workers)}, V8 helper threads (GC, compilation) ${fmt(r.threadCpuUs.v8Helpers)}; PostgreSQL ${r.pgCpuUs === undefined ? 'n/a' : fmt(r.pgCpuUs)}.`,
          '',
          // CPU per resource x resources per second: the share of the wall time each was running (a
          // thread that waits for another, or for a core, is not).
          `Busy share of the wall time: main ${pct(r.threadCpuUs.main * r.perSecond)}, prepare workers ${pct(r.threadCpuUs.workers * r.perSecond)}, V8 helpers ${pct(r.threadCpuUs.v8Helpers * r.perSecond)}, PostgreSQL ${r.pgCpuUs === undefined ? 'n/a' : pct(r.pgCpuUs * r.perSecond)}; all of it ${pct((r.nodeCpuUs + (r.pgCpuUs ?? 0)) * r.perSecond)} of one core (${r.cores} cores).`,
          '',
        ]
      : []),
    ...(r.pipeline
      ? [
          `Pipeline: ${r.pipeline.batches} batch transactions; the main thread outside them (waiting for a prepared batch) ${pct(r.pipeline.outsideBatchShare * 1e6)} of the wall time; no preparation in flight (the preparing thread starved) ${pct(r.pipeline.preparerStarvedShare * 1e6)}; single-resource reads awaited while judging ${r.pipeline.readsPerBatch.toFixed(1)} per batch.`,
          '',
        ]
      : []),
    `Floor: the per-line work alone (parse, validate, extract the index; one thread, no database) costs ${fmt(r.prepareCpuUs)} µs of CPU per resource, of which validation (R4 base + Concord profiles) ${fmt(r.validateCpuUs)} µs. No batching removes it: on ${r.cores} idle cores it bounds the import at ${fmt((r.cores * 1e6) / r.prepareCpuUs)} resources/s before any other work.`,
    '',
    'Before: 1,000,009 resources took 37 minutes through transaction Bundles (418-505 resources/s, issue 13).',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = parseArgs(process.argv.slice(2));
  const report = await runImportBench(options);
  process.stdout.write(`${renderMarkdown(report, commandFor(options))}\n`);
}

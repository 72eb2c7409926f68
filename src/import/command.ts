// `npm run import -- [options] <files...>`: argument parsing, the progress bar and the error report
// around importFiles. The caller supplies the store (src/import-cli.ts opens the configured database).
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import { importFiles, DEFAULT_BATCH_SIZE, type BatchPreparer, type ImportSummary } from './importer.js';
import type { ImportStore } from './store.js';

export const USAGE = `usage: npm run import -- [--report FILE] [--batch N] [--workers N] [--no-progress] <file.ndjson...>
  Loads NDJSON files (one resource type per file; every line a resource with its id) with validation and
  the coordination rules. Re-running the same command resumes after the last committed batch.
  --report FILE   rejected lines as NDJSON (default import-report.ndjson; written only when lines are rejected)
  --batch N       lines per transaction (default ${DEFAULT_BATCH_SIZE})
  --workers N     worker threads for parsing, validation and index extraction (default: 0 = in this thread on 1-2 cores, else cores - 1)
  --no-progress   no progress bar (a summary line per file still goes to stderr)`;

export class UsageError extends Error {}

/**
 * Worker threads by default. On two cores the import runs fastest with none: preparing in the main thread
 * costs ~100 µs less CPU per resource than a worker plus the main thread (no structured clones of the
 * lines and their results, one heap and one JIT of the validation code), and the lookahead still prepares
 * the next batches while this thread waits for PostgreSQL (bench/RESULTS.md, 2026-12-04, "import main thread").
 * With more cores a worker per spare core is kept (not measured here).
 */
export function defaultWorkers(cores: number): number {
  return cores <= 2 ? 0 : cores - 1;
}

export interface CommandArgs {
  files: string[];
  report: string;
  batchSize: number;
  workers: number;
  progress: boolean;
}

export function parseImportArgs(argv: readonly string[]): CommandArgs {
  const out: CommandArgs = { files: [], report: 'import-report.ndjson', batchSize: DEFAULT_BATCH_SIZE,
    workers: defaultWorkers(availableParallelism()), progress: true };
  const int = (name: string, raw: string | undefined, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} needs an integer >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--report') {
      const v = argv[++i];
      if (!v) throw new UsageError('--report needs a file name');
      out.report = v;
    } else if (a === '--batch') out.batchSize = int('--batch', argv[++i], 1);
    else if (a === '--workers') out.workers = int('--workers', argv[++i], 0);
    else if (a === '--no-progress') out.progress = false;
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else out.files.push(a);
  }
  if (out.files.length === 0) throw new UsageError('no files given');
  return out;
}

export interface CommandContext {
  store: ImportStore;
  rules: boolean;
  baseUrls: string[];
  maxJsonDepth: number;
  maxIndexRows: number;
  prepare?: BatchPreparer;
  /** Where progress and summaries go (stderr). */
  err: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Runs the import and writes the report; returns the process exit code (0 all in, 3 some lines rejected). */
export async function runImportCommand(args: CommandArgs, ctx: CommandContext): Promise<{ code: number; summary: ImportSummary }> {
  const bar = args.progress ? new SingleBar({ stream: ctx.err, format: '{bar} {percentage}% | {file} | {written} written, {unchanged} unchanged, {rejected} rejected | {rate}/s | ETA {eta_formatted}', hideCursor: true }, Presets.shades_classic) : undefined;
  const started = Date.now();
  let barStarted = false;
  const summary = await importFiles(args.files, {
    store: ctx.store,
    rules: ctx.rules,
    baseUrls: ctx.baseUrls,
    maxJsonDepth: ctx.maxJsonDepth,
    maxIndexRows: ctx.maxIndexRows,
    batchSize: args.batchSize,
    ...(ctx.prepare ? { prepare: ctx.prepare } : {}),
    onProgress: (p) => {
      if (!bar) return;
      const done = p.written + p.unchanged + p.rejected;
      const payload = { file: p.file, written: p.written, unchanged: p.unchanged, rejected: p.rejected, rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) };
      if (!barStarted) {
        bar.start(Math.max(1, p.bytesTotal), p.bytesDone, payload);
        barStarted = true;
      } else bar.update(p.bytesDone, payload);
    },
  });
  bar?.stop();
  let rejectedLines = 0;
  const out = createWriteStream(args.report);
  let opened = false;
  try {
    for (const f of summary.files) {
      for (const e of await ctx.store.journal.errors(f.fileKey)) {
        opened = true;
        rejectedLines++;
        if (!out.write(`${JSON.stringify({ file: f.name, ...e })}\n`)) await once(out, 'drain');
      }
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  if (!opened) {
    const { rm } = await import('node:fs/promises');
    await rm(args.report, { force: true });
  }
  for (const f of summary.files) {
    ctx.err.write(`${f.name} (${f.resourceType}): ${f.alreadyComplete ? 'already imported; ' : ''}${f.written} written, ${f.unchanged} unchanged, ${f.rejected} rejected of ${f.lines} lines\n`);
  }
  const done = summary.written + summary.unchanged + summary.rejected;
  ctx.err.write(`this run: ${done} lines in ${(summary.ms / 1000).toFixed(1)} s (${Math.round(done / Math.max(0.001, summary.ms / 1000))} lines/s)${rejectedLines ? `; ${rejectedLines} rejected lines in ${args.report}` : ''}\n`);
  return { code: rejectedLines > 0 ? 3 : 0, summary };
}

// Worker threads (piscina) for the CPU-bound part of an import: parse, validate, extract the index. A
// batch is split into one slice per worker, so the main thread's database writes overlap with them.
import { Piscina } from 'piscina';
import type { BatchPreparer } from './importer.js';
import type { Prepared } from './prepare.js';
import type { PrepareTask } from './prepare-worker.js';

export interface PreparePool {
  prepare: BatchPreparer;
  close(): Promise<void>;
}

/**
 * A prepare worker's young generation: a batch's parsed lines, their validation and index rows are all
 * garbage once the batch is sent, but with the default young generation they outlive a scavenge or two
 * and are promoted, and the old generation's marking and compaction pay for them. 64 MB holds a batch's
 * worth; measured 20-35 µs less worker CPU per resource (bench/RESULTS.md, 2026-12-04).
 */
export const PREPARE_WORKER_LIMITS = { maxYoungGenerationSizeMb: 64 } as const;

export function openPreparePool(threads: number): PreparePool {
  // The worker runs from the same tree as this module: .ts under tsx, .js once built.
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const pool = new Piscina<PrepareTask, Prepared[]>({
    filename: new URL(`./prepare-worker.${ext}`, import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    resourceLimits: PREPARE_WORKER_LIMITS,
  });
  return {
    async prepare(lines, options) {
      const size = Math.ceil(lines.length / threads);
      const slices: PrepareTask[] = [];
      for (let i = 0; i < lines.length; i += size) {
        slices.push({ options, lines: lines.slice(i, i + size).map((l) => ({ line: l.line, end: l.end, bytes: l.bytes })) });
      }
      return (await Promise.all(slices.map((s) => pool.run(s)))).flat();
    },
    close: () => pool.destroy(),
  };
}

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

export function openPreparePool(threads: number): PreparePool {
  // The worker runs from the same tree as this module: .ts under tsx, .js once built.
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const pool = new Piscina<PrepareTask, Prepared[]>({
    filename: new URL(`./prepare-worker.${ext}`, import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
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

// Runs the write checks (validation and search index extraction, write-checks.ts) of LARGE resources on a
// worker thread, so one big write does not stall every other request: 5,000 names cost ~250 ms of
// validation and extraction, 10,000 extensions ~300 ms, all synchronous. Small resources stay on the
// event loop, where they take a few milliseconds and a thread hop (structured clone both ways) would
// cost more than it saves.
//
// The pool starts its first thread on first need (a thread loads the R4 definitions: tens of MB), holds
// at most `threads` of them, and lets a thread exit after idleTimeoutMs without work, so an idle server
// carries none.
import { Piscina } from 'piscina';
import type { JsonSize } from './hostile-input.js';
import { DEFAULT_MAX_INDEX_ROWS } from './search/extract.js';
import type { WriteCheckResult, WriteCheckTask } from './write-checks.js';
import type { OffloadedChecks } from './write-pipeline.js';

/**
 * Above either bound a resource is checked on a worker. Measured cost is ~10 µs per JSON node (validation
 * plus extraction), so 2,000 nodes is ~20 ms inline; and the string values' total length, because
 * extraction normalizes every indexed string (4 x 1 MB of `given` cost ~70 ms).
 */
export const DEFAULT_OFFLOAD_THRESHOLD: JsonSize = { nodes: 2_000, chars: 256 * 1024 };

export interface WriteCheckPoolOptions {
  /** Most worker threads at once; 0 turns offloading off (everything runs inline). */
  threads: number;
  idleTimeoutMs?: number;
  maxIndexRows?: number;
  threshold?: JsonSize;
}

// The worker module next to this one: .js in the build, .ts when run from source. Under tsx the thread
// inherits tsx's loader with the process's flags; a test runner's transform is not inherited, so from
// source without tsx the thread gets tsx's loader (and only that: flags like --expose-gc are refused
// in a worker).
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./write-checks-worker${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);
const EXEC_ARGV = FROM_SOURCE && !process.execArgv.some((a) => a.includes('tsx')) ? { execArgv: ['--import', 'tsx'] } : {};

export class WriteCheckPool implements OffloadedChecks {
  private pool: Piscina<WriteCheckTask, WriteCheckResult> | undefined;
  private closed = false;
  private inFlight = 0;
  private readonly threshold: JsonSize;
  private readonly maxIndexRows: number;

  constructor(private readonly options: WriteCheckPoolOptions) {
    this.threshold = options.threshold ?? DEFAULT_OFFLOAD_THRESHOLD;
    this.maxIndexRows = options.maxIndexRows ?? DEFAULT_MAX_INDEX_ROWS;
  }

  /** Whether a resource of this size goes to a worker. */
  offloads(size: JsonSize): boolean {
    return this.options.threads > 0 && !this.closed && (size.nodes >= this.threshold.nodes || size.chars >= this.threshold.chars);
  }

  run(resource: unknown, expectedType: string, size: JsonSize, index: boolean): Promise<WriteCheckResult> | undefined {
    if (!this.offloads(size)) return undefined;
    this.pool ??= new Piscina<WriteCheckTask, WriteCheckResult>({
      filename: WORKER_URL.href,
      minThreads: 0,
      maxThreads: this.options.threads,
      idleTimeout: this.options.idleTimeoutMs ?? 2_000,
      ...EXEC_ARGV,
    });
    this.inFlight++;
    return this.pool.run({ resource, expectedType, index, maxIndexRows: this.maxIndexRows }).finally(() => this.inFlight--);
  }

  /** Checks sent to a worker and not answered yet. */
  get running(): number {
    return this.inFlight;
  }

  /** Threads alive now (0 before first use and after the idle timeout). */
  get threadCount(): number {
    return this.pool?.threads.length ?? 0;
  }

  /** Waits for running checks, then stops every thread; later writes are checked inline. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }
}

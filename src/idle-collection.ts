// One full garbage collection when the server goes quiet after a burst of work. After a load (a batch of
// large Bundles, the R4 examples) V8's heap holds tens of MB of garbage: the growth bound (heap-growth.ts)
// lets it reach 1.5x of the live heap before the next full GC, and V8's memory reducer gives it back only
// 8 s or more after the last full GC, if at all, while the process stays resident at the burst's size
// (bench/RESULTS.md, "idle collection"). A process that has grown by at least `thresholdMb` (V8 heap in
// use plus external memory such as request body buffers) since the last such collection, and has been
// quiet for one whole interval (event loop busy less than `idleUtilisation` of it), is collected once.
// Under load the loop is busy and nothing runs; when quiet and not growing, a tick reads two counters.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

export interface IdleCollectionOptions {
  /** Growth since the last idle collection that makes one due; 0 turns idle collection off. */
  thresholdMb: number;
  /** How often the process is looked at; it must have been idle for the whole last interval. */
  intervalMs?: number;
  /**
   * Event loop utilisation (0-1) under which an interval counts as quiet. Not 0: an idle embedded store
   * still runs its pollers' queries on the loop (the subscription dispatcher's, each second), which read
   * 3-12 % on a loaded machine; a collection costs tens of ms, so a loop this lightly used can afford it.
   */
  idleUtilisation?: number;
  /** The collection (tests); V8's full collection by default. */
  collect?: () => void;
  /** Told after each collection: footprint before and after (MB), the process CPU and the loop pause it took (ms). */
  onCollect?: (report: { beforeMb: number; afterMb: number; cpuMs: number; pauseMs: number }) => void;
}

/**
 * V8's full collection, without starting node with --expose-gc: the flag is turned on only while one
 * fresh context is created (V8 installs `gc` into contexts created while it is set), then off again, so
 * no other context (vm, worker threads) gets a `gc` global. Undefined if this V8 refuses.
 */
export function fullCollection(): (() => void) | undefined {
  const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  try {
    if (!exposed) v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? () => void (gc as () => void)() : undefined;
  } catch {
    return undefined;
  } finally {
    if (!exposed) v8.setFlagsFromString('--no-expose-gc');
  }
}

/** V8 heap in use plus memory outside it that V8 accounts (ArrayBuffer backing stores), bytes. */
function footprint(): number {
  const s = v8.getHeapStatistics();
  return s.used_heap_size + s.external_memory;
}

const mb = (bytes: number): number => Math.round(bytes / 1048576);

export class IdleCollection {
  private timer: NodeJS.Timeout | undefined;
  private last: EventLoopUtilization | undefined;
  private baseline = 0;
  private count = 0;

  constructor(private readonly options: IdleCollectionOptions) {}

  /** Starts looking (no-op when off or when V8 offers no full collection). Answers whether it runs. */
  start(): boolean {
    if (this.options.thresholdMb <= 0 || this.timer) return false;
    const collect = this.options.collect ?? fullCollection();
    if (!collect) return false;
    const threshold = this.options.thresholdMb * 1024 * 1024;
    const idle = this.options.idleUtilisation ?? 0.2;
    this.baseline = footprint();
    this.last = performance.eventLoopUtilization();
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      const busy = performance.eventLoopUtilization(now, this.last).utilization;
      this.last = now;
      const size = footprint();
      // What was collected by V8 meanwhile need not be collected again.
      if (size < this.baseline) this.baseline = size;
      if (busy >= idle || size - this.baseline < threshold) return;
      const cpu = process.cpuUsage();
      const start = performance.now();
      collect();
      const pauseMs = Math.round(performance.now() - start);
      const used = process.cpuUsage(cpu);
      this.count++;
      this.baseline = footprint();
      this.options.onCollect?.({ beforeMb: mb(size), afterMb: mb(this.baseline), cpuMs: Math.round((used.user + used.system) / 1000), pauseMs });
      // The collection's own time would count as busy in the next interval.
      this.last = performance.eventLoopUtilization();
    }, this.options.intervalMs ?? 1000);
    this.timer.unref();
    return true;
  }

  /** Idle collections run so far. */
  get collections(): number {
    return this.count;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

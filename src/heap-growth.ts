// How far V8 lets the server's heap grow between full collections. By default V8 picks the factor from
// its measured GC speed, up to 4x of what survived the last full GC; after a burst of large writes (e.g.
// the R4 examples, Bundles of up to 35 MB) that leaves 100-200 MB of garbage committed until V8's memory
// reducer runs, which is 10-30 s later or not at all while requests keep coming. A fixed factor bounds
// the heap to what is live plus that share, for more frequent full GCs (bench/RESULTS.md, memory after
// the examples). The flag is read at every full GC, so setting it at start-up applies to this process
// and to the worker threads it starts; a --heap-growing-percent given to node by the operator wins.
import v8 from 'node:v8';

const FLAG = /^--heap[-_]growing[-_]percent(=|$)/;

/** Node's own command-line and NODE_OPTIONS flags (where an operator would give a V8 flag). */
export function nodeFlags(): string[] {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)];
}

/**
 * Sets V8's heap growing factor to 1 + percent/100 unless percent is 0 (V8 decides) or the operator gave
 * the flag to node. Answers whether it was set.
 */
export function applyHeapGrowth(percent: number, flags: readonly string[] = nodeFlags()): boolean {
  if (percent <= 0 || flags.some((f) => FLAG.test(f))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${Math.floor(percent)}`);
  return true;
}

// The server's entry bounds V8's heap growth (src/heap-growth.ts, HEAP_GROWING_PERCENT): after the same
// allocations, the heap it has committed is well below what V8's own growth factor leaves.
import { describe, expect, it } from 'vitest';
import { runServerWithProbe } from '../support/probe-process.js';
import { applyHeapGrowth } from '../../src/heap-growth.js';

// Loaded into the server with --import: once /healthz answers, it allocates like a burst of large writes
// (10 rounds of garbage alive at a time, 60 rounds), prints the largest committed heap seen, and exits.
const probe = (port: number): string => `
const wait = async () => { for (;;) { try { if ((await fetch('http://127.0.0.1:${port}/healthz')).ok) return; } catch {} await new Promise((r) => setTimeout(r, 100)); } };
wait().then(() => {
  let keep = [];
  let max = 0;
  for (let r = 0; r < 60; r++) {
    keep.push(Array.from({ length: 100000 }, (_, i) => ({ i, s: 'x' + i })));
    if (keep.length > 10) keep.shift();
    max = Math.max(max, process.memoryUsage().heapTotal);
  }
  process.stdout.write('MAX_HEAP_TOTAL=' + max + '\\n');
  process.exit(0);
});`;

async function maxHeapTotal(env: Record<string, string>): Promise<number> {
  const out = await runServerWithProbe(probe, env);
  const m = /MAX_HEAP_TOTAL=(\d+)/.exec(out);
  expect(m, out).not.toBeNull();
  return Number(m![1]);
}

// Node 24's V8 (13.x) mostly decides the growth itself: the same probe committed 534 MB with V8's own
// factor and 423-473 MB with the bound (set at start or at once by main.ts), too close to assert; Node 20
// commits 523 MB against 274-292 MB. The bound is asserted where V8 honours it (bench/RESULTS.md).
const v8HonoursBound = Number(process.versions.node.split('.')[0]) < 22;

describe('V8 heap growth bound', () => {
  it.skipIf(!v8HonoursBound)('keeps the committed heap of the running server well below V8 own growth after the same allocations', async () => {
    const own = await maxHeapTotal({ HEAP_GROWING_PERCENT: '0' });
    const bounded = await maxHeapTotal({});
    expect(bounded).toBeLessThan(own * 0.8);
    // Two server starts under tsx one after the other: over 120 s on a loaded 2-core machine.
  }, 300_000);

  it('leaves the factor to an operator who gave node the flag, and to V8 when the setting is 0', () => {
    expect(applyHeapGrowth(0, [])).toBe(false);
    expect(applyHeapGrowth(50, ['--heap-growing-percent=20'])).toBe(false);
    expect(applyHeapGrowth(50, ['--max-old-space-size=512', '--heap_growing_percent=30'])).toBe(false);
  });
});

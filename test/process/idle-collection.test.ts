// The server's entry collects garbage once it is quiet after a burst (src/idle-collection.ts, IDLE_GC_MB):
// garbage left in the old generation by a burst is given back within seconds of idleness, where V8 alone
// keeps it until its memory reducer or the next full collection.
import { describe, expect, it } from 'vitest';
import { runServerWithProbe } from '../support/probe-process.js';

// Loaded into the server with --import: once /healthz answers, it keeps ~64 MB of small objects alive
// long enough to reach the old generation, drops them, and prints how much of V8's heap in use it gave back
// (and the event loop's utilisation meanwhile) once that reaches `enoughMb` or after `waitMs`, then exits.
// Without idle collection it waits the whole 6 s (V8's memory reducer starts later); with it, it may wait up
// to 20 s: the collection runs after a whole quiet second, and on a machine busy with the rest of the suite
// the server's embedded store takes longer to finish its start-up queries and its pollers' rounds.
const probe = (waitMs: number, enoughMb: number) => (port: number): string => `
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const wait = async () => { for (;;) { try { if ((await fetch('http://127.0.0.1:${port}/healthz')).ok) return; } catch {} await sleep(100); } };
wait().then(async () => {
  let keep = [];
  for (let r = 0; r < 64; r++) keep.push(Array.from({ length: 16384 }, (_, i) => ({ i, s: 'x' + i })));
  keep = undefined;
  const before = process.memoryUsage().heapUsed;
  const elu = performance.eventLoopUtilization();
  const until = Date.now() + ${waitMs};
  let freed = 0;
  while (Date.now() < until && freed < ${enoughMb}) {
    await sleep(250);
    freed = Math.round((before - process.memoryUsage().heapUsed) / 1048576);
  }
  process.stdout.write('FREED_MB=' + freed + ' ELU=' + performance.eventLoopUtilization(elu).utilization.toFixed(3) + '\\n');
  process.exit(0);
});`;

/** MB of V8 heap in use given back while idle after the probe's burst, and what the probe printed. */
async function freedWhileIdle(env: Record<string, string>, waitMs: number, enoughMb: number): Promise<{ mb: number; out: string }> {
  const out = await runServerWithProbe(probe(waitMs, enoughMb), env);
  const m = /FREED_MB=(-?\d+)/.exec(out);
  expect(m, out).not.toBeNull();
  return { mb: Number(m![1]), out: out.trim() };
}

// Node 24's V8 (13.x) gives a burst's garbage back by itself (CI: 80 MB freed without idle collection, 76
// with), as it decides heap growth itself (heap-growth.test.ts): the gain is asserted where V8 keeps it.
const v8KeepsGarbage = Number(process.versions.node.split('.')[0]) < 22;

describe('idle collection in the server process', () => {
  it.skipIf(!v8KeepsGarbage)('gives back the garbage of a burst within seconds of idleness, which V8 alone keeps', async () => {
    const [off, on] = await Promise.all([freedWhileIdle({ IDLE_GC_MB: '0' }, 6000, Infinity), freedWhileIdle({}, 20_000, 45)]);
    const report = `with idle collection ${on.out}; without ${off.out}`;
    expect(on.mb, report).toBeGreaterThan(40);
    expect(off.mb, report).toBeLessThan(on.mb - 30);
  }, 300_000);
});

// `npm start` and the container start the server with a young generation of 2 x 8 MB (docs/adr/0026,
// addendum): V8's own (2 x 16 MB on Node 20, 2 x 32 MB on Node 24) stays committed after a burst until
// V8's memory-reducing collection, which the idle collection cannot trigger on Node 20. The heap is
// configured when the isolate is created, so it has to be a launch flag; it holds for worker threads too.
// V8_SEMI_SPACE_MB overrides it for an operator who prefers the CPU (the cap costs some on bulk writes).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
const launch = start.slice(start.indexOf('&&') + 2).trim();

// A burst of short-lived allocation (enough to grow V8's default young generation to its maximum) in the
// main thread and in a worker thread; prints the committed new space of each, MB.
const probe = join(mkdtempSync(join(tmpdir(), 'concord-young-')), 'probe.cjs');
writeFileSync(
  probe,
  `const { Worker } = require('node:worker_threads');
const burst = "let k = []; for (let i = 0; i < 2e6; i++) { const o = { a: i, b: 'x' + i }; if (i % 50 === 0) k.push(o); if (k.length > 20000) k = []; }";
const newSpace = "require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576";
eval(burst); const main = eval(newSpace);
new Worker(burst + '; require("node:worker_threads").parentPort.postMessage(' + newSpace + ')', { eval: true }).on('message', (w) => process.stdout.write(JSON.stringify({ main, worker: w })));`,
);

/** Runs a shell launch line (the server's entry last) with the entry swapped for the probe, on this Node. */
function youngGeneration(line: string, env: Record<string, string> = {}): { main: number; worker: number } {
  expect(line).toMatch(/ dist\/src\/main\.js$/);
  const script = line.replace(/dist\/src\/main\.js$/, probe).replace(/\bnode /, `'${process.execPath}' `);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env.V8_SEMI_SPACE_MB === undefined) delete childEnv.V8_SEMI_SPACE_MB;
  return JSON.parse(execFileSync('sh', ['-c', script], { encoding: 'utf8', env: childEnv })) as { main: number; worker: number };
}

describe('young generation at launch', () => {
  it('V8 grows its default young generation past 16 MB on this load (the premise)', () => {
    const { main, worker } = youngGeneration('node dist/src/main.js');
    expect(main).toBeGreaterThan(16);
    expect(worker).toBeGreaterThan(16);
  });

  it('npm start gives the server and its worker threads a young generation of at most 16 MB; V8_SEMI_SPACE_MB lifts it', () => {
    const capped = youngGeneration(launch);
    expect(capped.main).toBeLessThanOrEqual(16);
    expect(capped.worker).toBeLessThanOrEqual(16);
    const lifted = youngGeneration(launch, { V8_SEMI_SPACE_MB: '64' });
    expect(lifted.main).toBeGreaterThan(16);
    expect(lifted.worker).toBeGreaterThan(16);
  });

  it('the container image starts it the same way', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
    const argv = JSON.parse(cmd ?? '[]') as string[];
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    const line = argv[2]!.replace(/^exec /, '');
    const capped = youngGeneration(line);
    expect(capped.main).toBeLessThanOrEqual(16);
    expect(capped.worker).toBeLessThanOrEqual(16);
    expect(youngGeneration(line, { V8_SEMI_SPACE_MB: '64' }).main).toBeGreaterThan(16);
  });
});

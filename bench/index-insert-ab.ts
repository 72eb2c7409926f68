// CPU of building a resource's search index insert (write-index.ts indexInsertOf: extraction plus the
// per-table column arrays the version write sends), this tree against another checkout given with --base,
// both loaded into this one process. Blocks alternate (after, before, before, after, ...); per block the
// thread's CPU (process.threadCpuUsage where available, else process.cpuUsage) per call; the median of
// the paired block differences is robust to a shared machine's load drifting. The extraction is the same
// code in both trees, so the difference is the insert building.
//
//   npx tsx bench/index-insert-ab.ts --base DIR [--blocks 40] [--calls 2000]
import { cpus } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { flags } from './args.js';
import { benchPatientAsStored } from './fixtures.js';

const f = flags(process.argv.slice(2));
const baseDir = f.value('base');
if (!baseDir) throw new Error('--base DIR (a checkout to compare with)');
const blocks = f.num('blocks', 40, 2, true);
const calls = f.num('calls', 2000, 10, true);

type IndexInsertOf = (resource: Record<string, unknown>) => unknown;
async function load(dir: string): Promise<IndexInsertOf> {
  const defs = (await import(pathToFileURL(join(dir, 'src', 'fhir', 'definitions.ts')).href)) as { loadDefinitions: () => void };
  defs.loadDefinitions();
  const m = (await import(pathToFileURL(join(dir, 'src', 'storage', 'search', 'write-index.ts')).href)) as { indexInsertOf: IndexInsertOf };
  return m.indexInsertOf;
}
const after = await load(resolve('.'));
const before = await load(resolve(baseDir));
const patient = benchPatientAsStored();
// Equal output first: the two trees must build the same insert.
if (JSON.stringify(after(patient), (k, v: unknown) => (k === 'spec' ? (v as { table: string }).table : v)) !== JSON.stringify(before(patient), (k, v: unknown) => (k === 'spec' ? (v as { table: string }).table : v))) {
  throw new Error('the two trees build different inserts');
}
const cpu = (): number => {
  const u = (process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage();
  return u.user + u.system;
};
function block(fn: IndexInsertOf): number {
  const c0 = cpu();
  for (let i = 0; i < calls; i++) fn(patient);
  return (cpu() - c0) / calls;
}
for (let i = 0; i < 3; i++) {
  block(after);
  block(before);
}
const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < blocks; i++) {
  if (i % 2 === 0) {
    a.push(block(after));
    b.push(block(before));
  } else {
    b.push(block(before));
    a.push(block(after));
  }
}
const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const load0 = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
process.stdout.write(
  `${blocks} blocks of ${calls} calls (${cpus().length} cores, load ${load0}): before ${med(b).toFixed(2)} µs/call, after ${med(a).toFixed(2)} µs/call, ` +
    `median paired difference (after - before) ${med(a.map((x, i) => x - b[i]!)).toFixed(2)} µs/call\n`,
);

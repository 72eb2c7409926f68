// CPU per Patient create over HTTP, two Concord trees side by side: this checkout ("after") and another
// checkout given with --base ("before", e.g. a worktree of the base commit sharing node_modules). Each
// runs in its own child process (bench/concord-child.ts of its own tree: rules on, audit on, auth off) on
// its own PostgreSQL schema; the parent posts alternating blocks of creates to them (after, before,
// before, after, ...), C in flight, over keep-alive HTTP. Per block: the child's CPU (process.cpuUsage
// over IPC) and the CPU of its PostgreSQL sessions (/proc/<pid>/schedstat of every backend with its
// application_name), divided by the creates. Blocks of one round run back to back, so the median of the
// paired differences is robust to a shared machine's load drifting; the load average is printed per round.
//
//   npx tsx bench/create-cpu-ab.ts --base DIR [--n 1200] [--block 100] [--concurrency 4] [--rounds-only]
// --node-args "<flags>" / --base-node-args "<flags>": node flags for one lane's child (e.g. a launch flag of
// `npm start` such as --max-semi-space-size=4, compared with --base pointing at this same checkout).
//   npx tsx bench/create-cpu-ab.ts --profile FILE [--n 2000] [--concurrency 4]   (this tree only, a V8 CPU profile)
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { flags } from './args.js';
import { benchPatient } from './fixtures.js';
import type { ConcordChildMessage, ConcordChildOptions, ConcordParentMessage } from './concord-child.js';
import { ask } from './concord-process.js';

const f = flags(process.argv.slice(2));
const n = f.num('n', 1200, 20, true);
const block = f.num('block', 100, 5, true);
const concurrency = f.num('concurrency', 4, 1, true);
const baseDir = f.value('base');
const profile = f.value('profile');
// --solo: this tree only, no V8 profile (for an outside profiler such as perf attached to the child's pid).
const solo = process.argv.includes('--solo');
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
if (!baseDir && !profile && !solo) throw new Error('--base DIR (a checkout to compare with) or --profile FILE');

interface Lane {
  label: string;
  schema: string;
  app: string;
  child: ChildProcess;
  agent: http.Agent;
  port: number;
  sent: number;
  creates: number;
  cpuUs: number;
  pgUs: number;
  /** Per measured block: [Node µs, PostgreSQL µs] per create. */
  blocks: [number, number][];
}

const nodeArgs = (name: string): string[] => (f.value(name) ?? '').split(' ').filter((a) => a !== '');

async function lane(label: string, dir: string, extraArgs: string[] = []): Promise<Lane> {
  const schema = `bench_ab_${randomUUID().slice(0, 8)}`;
  const options: ConcordChildOptions = { databaseUrl: url, schema, rules: 'on', audit: 'on', poolMax: 20, dropSchemaOnExit: true };
  const child = fork(join(dir, 'bench', 'concord-child.ts'), [JSON.stringify(options)], {
    cwd: dir,
    execArgv: [...extraArgs, '--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: ConcordChildMessage) => {
      if (m.type === 'ready') resolve(m.port);
      if (m.type === 'error') reject(new Error(m.message));
    });
    child.once('exit', (code) => reject(new Error(`${label} exited (${code})`)));
  });
  return { label, schema, app: `concord_${schema}`, child, agent: new http.Agent({ keepAlive: true, maxSockets: concurrency }), port, sent: 0, creates: 0, cpuUs: 0, pgUs: 0, blocks: [] };
}

const admin = new pg.Client({ connectionString: url });
await admin.connect();

async function backendCpu(app: string): Promise<Map<number, number>> {
  const res = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app]);
  const out = new Map<number, number>();
  for (const { pid } of res.rows) {
    const text = await readFile(`/proc/${pid}/schedstat`, 'utf8').catch(() => undefined);
    if (text) out.set(pid, Number(text.split(' ')[0]) / 1000);
  }
  return out;
}

function post(l: Lane, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: l.port, path: '/fhir/Patient', method: 'POST', agent: l.agent, headers: { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`create: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const childCpu = async (l: Lane): Promise<number> => {
  const m = await ask<Extract<ConcordChildMessage, { type: 'cpu' }>>(l.child, { type: 'cpu' }, 'cpu');
  return m.user + m.system;
};

async function runBlock(l: Lane, count: number, measure: boolean): Promise<void> {
  const bodies = Array.from({ length: count }, (_, i) => JSON.stringify(benchPatient(l.sent + i)));
  l.sent += count;
  const pg0 = await backendCpu(l.app);
  const cpu0 = await childCpu(l);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await post(l, bodies[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = (await childCpu(l)) - cpu0;
  const pg1 = await backendCpu(l.app);
  if (!measure) return;
  let pgUs = 0;
  for (const [pid, us] of pg1) pgUs += us - (pg0.get(pid) ?? 0);
  l.cpuUs += cpu;
  l.pgUs += pgUs;
  l.blocks.push([cpu / count, pgUs / count]);
  l.creates += count;
}

const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const here = resolve(fileURLToPath(new URL('..', import.meta.url)));

if (profile || solo) {
  const after = await lane('this tree', here);
  await runBlock(after, 200, false);
  process.stdout.write(`child pid ${after.child.pid}\n`);
  if (profile) await ask(after.child, { type: 'profile-start' }, 'profiled');
  const t0 = Date.now();
  await runBlock(after, n, true);
  if (profile) await ask(after.child, { type: 'profile-stop', file: resolve(profile) }, 'profiled');
  process.stdout.write(`load ${load()}; ${n} creates in ${Date.now() - t0} ms; Node ${(after.cpuUs / after.creates).toFixed(0)} µs, PostgreSQL ${(after.pgUs / after.creates).toFixed(0)} µs per create${profile ? `; profile in ${profile}` : ''}\n`);
  after.child.send({ type: 'close', dropSchema: true } satisfies ConcordParentMessage);
  after.agent.destroy();
} else {
  const after = await lane('after (this tree)', here, nodeArgs('node-args'));
  const before = await lane(`before (${baseDir})`, resolve(baseDir!), nodeArgs('base-node-args'));
  process.stdout.write(`load before: ${load()}\n`);
  for (const l of [after, before]) await runBlock(l, 200, false);
  for (let done = 0, round = 0; done < n; done += block, round++) {
    const order = round % 2 === 0 ? [after, before] : [before, after];
    for (const l of order) await runBlock(l, block, true);
    const a = after.blocks.at(-1)!;
    const b = before.blocks.at(-1)!;
    process.stdout.write(`round ${round}: load ${load()}; after Node ${a[0].toFixed(0)} PG ${a[1].toFixed(0)}; before Node ${b[0].toFixed(0)} PG ${b[1].toFixed(0)} µs/create\n`);
  }
  process.stdout.write(`load after: ${load()}\ncreates per lane: ${after.creates}, block ${block}, concurrency ${concurrency}\n`);
  for (const l of [before, after]) {
    process.stdout.write(`${l.label}: Node ${(l.cpuUs / l.creates).toFixed(0)} µs/create, PostgreSQL ${(l.pgUs / l.creates).toFixed(0)} µs/create (medians of blocks: ${median(l.blocks.map((b) => b[0])).toFixed(0)} / ${median(l.blocks.map((b) => b[1])).toFixed(0)})\n`);
  }
  const paired = (k: 0 | 1): number => median(after.blocks.map((b, i) => b[k] - before.blocks[i]![k]));
  process.stdout.write(`median of paired block differences (after - before): Node ${paired(0).toFixed(0)} µs, PostgreSQL ${paired(1).toFixed(0)} µs per create\n`);
  for (const l of [after, before]) {
    l.child.send({ type: 'close', dropSchema: true } satisfies ConcordParentMessage);
    l.agent.destroy();
  }
}
await new Promise((r) => setTimeout(r, 3000));
await admin.end();

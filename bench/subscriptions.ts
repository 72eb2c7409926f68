// Subscriptions benchmark (issue 11), on PostgreSQL, with a webhook receiver on 127.0.0.1:
//  1. commit -> webhook arrival latency at a paced write rate with N subscriptions that all match;
//  2. write throughput (closed loop) with those subscriptions on vs none, same run;
//  3. catch-up rate after a receiver outage.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions.ts [--rate 200] [--seconds 10] [--subs 10]
//                                                              [--outage 10] [--connections 20]
//                                                              [--dispatch off] [--keepalive off]
//                                                              [--server child|in-process] [--dispatcher same|separate]
//                                                              [--cpu-prof DIR] [--statements] [--batch-window MS] [--workers N]
//                                                              [--max-count N] [--batch-window-max MS] [--rounds N]
//
// --rounds N: the closed loop runs N times without and N times with the Subscriptions, alternated (each block
// --seconds long; between blocks the Subscriptions are set to status off, then requested again): this machine's
// CPU per write drifts by more than the difference measured, so adjacent blocks pair better than two long ones.
//
// Both configurations are warmed up (3 s each) before the rounds, so neither side of a round carries V8's first
// compilation of its own code.
//
// A checkpoint is taken before the warm-up, so that no timed checkpoint (every 5 minutes by default) falls inside
// the rounds of a run, which last less: after a checkpoint the next writes to each page log the full page again,
// so the blocks just after one are not like those before it. The rounds report any checkpoint that fell inside
// them all the same. (Not one before every block: right after a checkpoint the block that touches more pages,
// the Subscriptions' tables, would log more full pages than a server between checkpoints does.)
//
// --server child (default): Concord runs in a child process, launched as `npm start` launches the server (its
// node flags and malloc setting; V8_SEMI_SPACE_MB in this process's environment as it would be there), so the load
// generator and the receiver (this process) do not share its event loop; in-process puts all three on one
// event loop (how this benchmark ran before). --dispatcher separate: the API instance records events only
// (SUBSCRIPTION_DISPATCH=off) and a second Concord process on the same schema numbers and delivers them.
//
// CPU is reported apart for each party: this process (load generator and receiver), the Concord child
// process(es) (process.cpuUsage in the child) and their PostgreSQL backends (from /proc, by the
// connections' application_name), so a costlier receiver never reads as a costlier server.
// --cpu-prof DIR: a V8 CPU profile of the Concord child for each closed loop (off.cpuprofile, on.cpuprofile) and
// for the catch-up after the outage (catch-up.cpuprofile); its sampling adds to the Concord CPU figures of those phases.
// --statements: the statements Concord sent in each closed loop, by SQL text, per write and per POST.
// The receiver checks, per Subscription, that event numbers arrive in order without gaps (a redelivery
// must repeat an already received range with the same webhook-id); any violation fails the run.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { nodePostConnector } from '../src/net/webhook-post.js';
import { createServer } from '../src/server.js';
import { openPostgres } from '../src/storage/postgres.js';
import { BackportUrls } from '../src/subscriptions/topics.js';
import { flags } from './args.js';
import { startConcord, type ConcordProcess } from './concord-process.js';
import { npmStartLaunch } from './npm-start-launch.js';
import { BackendCpu } from './rest-core.js';
import { cpuDelta } from './process-cpu.js';

const args = flags(process.argv.slice(2));
const rate = args.num('rate', 200, 1);
const seconds = args.num('seconds', 10, 1);
const subs = args.num('subs', 10, 1, true);
const outage = args.num('outage', 10, 1);
const connections = args.num('connections', 20, 1, true);
// --max-count N: each Subscription's backport-max-count, the most events one POST may carry (the receiver's choice).
const maxCount = args.num('max-count', 20, 1, true);
// --rounds N: see the header.
const rounds = args.num('rounds', 1, 1, true);
// --dispatch off: notifications are recorded but not delivered (the write path's own cost, alone).
const dispatch = args.value('dispatch') !== 'off';
// --keepalive off: a new connection per webhook POST (what delivery did before keep-alive agents).
const keepAlive = args.value('keepalive') !== 'off';
const inProcess = args.value('server') === 'in-process';
const separateDispatcher = args.value('dispatcher') === 'separate';
const cpuProf = args.value('cpu-prof');
const countStatements = process.argv.includes('--statements');
if (inProcess && (cpuProf || countStatements)) throw new Error('--cpu-prof and --statements need --server child');
if (!inProcess && !keepAlive) throw new Error('--keepalive off needs --server in-process (the connector is swapped in code)');
if (inProcess && separateDispatcher) throw new Error('--dispatcher separate needs --server child');
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

// Receiver: checks order and gaplessness per Subscription, counts events and POSTs, and (paced phase) records
// when each focus version first arrived.
let receiverUp = true;
// `${focus}` -> first arrival (any Subscription), kept only while the paced phase measures latency: over the
// closed loops it would grow by every write (the receiver shares this machine's two cores with Concord).
const arrivals = new Map<string, number>();
let recordArrivals = false;
let delivered = 0;
let posts = 0; // event-notification POSTs (events per POST shows how much deliveries batch)
const receivedThrough = new Map<string, number>(); // subscription -> last event number acknowledged
const rangeIds = new Map<string, string>(); // `${subscription} ${from}-${to}` -> webhook-id
const violations: string[] = [];
const receiver = createHttpServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (!receiverUp) return void res.writeHead(503).end();
    const now = performance.now();
    const body = Buffer.concat(chunks).toString('utf8');
    const sub = /\/Subscription\/([^"/]+)"/.exec(body)?.[1] ?? '?';
    if (body.includes('"event-notification"')) {
      posts++;
      const numbers = [...body.matchAll(/"name":"event-number","valueString":"(\d+)"/g)].map((m) => Number(m[1]));
      const last = receivedThrough.get(sub) ?? 0;
      const from = numbers[0]!;
      const to = numbers[numbers.length - 1]!;
      const id = String(req.headers['webhook-id']);
      if (numbers.some((n, i) => i > 0 && n !== numbers[i - 1]! + 1)) violations.push(`${sub}: not consecutive ${numbers.join(',')}`);
      if (from > last + 1) violations.push(`${sub}: gap, ${last} then ${from}`);
      const key = `${sub} ${from}-${to}`;
      // A redelivery (at least once) repeats a range already received, with the same webhook-id.
      if (to <= last && rangeIds.get(key) !== undefined && rangeIds.get(key) !== id) violations.push(`${sub}: ${from}-${to} again with another webhook-id`);
      if (!rangeIds.has(key)) rangeIds.set(key, id);
      receivedThrough.set(sub, Math.max(last, to));
      if (to <= last) return void res.writeHead(200).end();
      delivered += numbers.length;
    }
    // The focus references are read only while the paced phase measures latency: outside it this would be a
    // second scan of every body, in a receiver that shares the machine's two cores with Concord.
    if (recordArrivals) {
      for (const m of body.matchAll(/"reference":"[^"]*\/(EpisodeOfCare\/[^"/]+\/_history\/\d+)"/g)) {
        if (!arrivals.has(m[1]!)) arrivals.set(m[1]!, now);
      }
    }
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const receiverPort = (receiver.address() as AddressInfo).port;

const schema = `bench_subs_${randomBytes(4).toString('hex')}`;
// The Concord child is launched as `npm start` launches the server (malloc arenas, V8's young generation of
// 2 x 8 MB unless V8_SEMI_SPACE_MB says otherwise in this process's environment), so the figures are the
// deployed server's: the young generation's size alone changes what every write spends scavenging
// (bench/RESULTS.md, 2026-12-06).
const launch = npmStartLaunch(fileURLToPath(new URL('..', import.meta.url)));
const settings: Record<string, string> = {
  HOST: '127.0.0.1',
  CONCORD_AUTH: 'off',
  // The audit trail stays on (the server's default), as in a deployment.
  CONCORD_AUDIT: 'on',
  RATE_LIMIT_PER_MINUTE: '0',
  BASE_URL: 'http://bench.local/fhir',
  DATABASE_URL: databaseUrl,
  SUBSCRIPTION_ALLOWED_HOSTS: `127.0.0.1:${receiverPort}`,
  SUBSCRIPTION_POLL_MS: '200',
  SUBSCRIPTION_DISPATCH: dispatch && !separateDispatcher ? 'on' : 'off',
  SUBSCRIPTION_RETRY_BASE_MS: '200',
  SUBSCRIPTION_RETRY_MAX_DELAY_MS: '1000',
  // --batch-window N: SUBSCRIPTION_BATCH_WINDOW_MS (default: the server's).
  ...(args.value('batch-window') !== undefined ? { SUBSCRIPTION_BATCH_WINDOW_MS: String(args.num('batch-window', 0, 0, true)) } : {}),
  // --batch-window-max N: SUBSCRIPTION_BATCH_WINDOW_MAX_MS (default: the server's; 0: the window does not grow).
  ...(args.value('batch-window-max') !== undefined ? { SUBSCRIPTION_BATCH_WINDOW_MAX_MS: String(args.num('batch-window-max', 0, 0, true)) } : {}),
  // --workers N: SUBSCRIPTION_WORKERS (default: the server's).
  ...(args.value('workers') !== undefined ? { SUBSCRIPTION_WORKERS: String(args.num('workers', 8, 1, true)) } : {}),
};
let base: string;
let stopServers: () => Promise<void>;
/** CPU of the Concord processes (µs) when they are children; this process's own CPU is measured apart. */
let serverCpu: () => Promise<number> = () => Promise.resolve(0);
let backends: BackendCpu | undefined;
const children: ConcordProcess[] = [];
if (inProcess) {
  const db = await openPostgres({ connectionString: databaseUrl, schema, max: 30 });
  const server = await createServer(loadConfig(settings), false, db, keepAlive ? {} : { webhookConnector: nodePostConnector });
  base = `${await server.app.listen({ port: 0, host: '127.0.0.1' })}/fhir`;
  stopServers = async () => {
    await server.close();
    const drop = await openPostgres({ connectionString: databaseUrl, schema });
    await drop.query(`DROP SCHEMA ${schema} CASCADE`);
    await drop.close();
  };
} else {
  const env = { ...settings, LOG_LEVEL: 'silent' };
  children.push(await startConcord({ schema, rules: 'on', auth: 'off', audit: 'on', poolMax: 30, env, countStatements, launch }));
  if (separateDispatcher && dispatch) children.push(await startConcord({ schema, rules: 'on', auth: 'off', audit: 'on', poolMax: 10, dropSchemaOnExit: false, env: { ...env, SUBSCRIPTION_DISPATCH: 'on' }, launch }));
  base = children[0]!.base;
  serverCpu = async () => (await Promise.all(children.map((c) => c.cpu()))).reduce((a, b) => a + b, 0);
  // Every child connects as concord_<schema> (concord-child.ts): the listening connection included.
  backends = await BackendCpu.open(databaseUrl, `concord_${schema}`);
  stopServers = async () => {
    await backends?.close();
    for (const c of children.slice(1)) await c.close(false);
    await children[0]!.close(true);
  };
}
const launched = `node ${launch.nodeArgs.join(' ')}${Object.entries(launch.env).map(([k, v]) => `, ${k}=${v}`).join('')}, as npm start`;
console.log(`Concord: ${inProcess ? 'in this process' : `${separateDispatcher && dispatch ? 'API child process (recording only) + dispatcher child process' : 'child process'} (${launched})`}`);

async function put(path: string, body: unknown): Promise<number> {
  const res = await fetch(`${base}/${path}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status}`);
  return Number((res.headers.get('etag') ?? '').replace(/\D/g, ''));
}

const members = 20;
for (let i = 0; i < members; i++) await put(`Patient/bm${i}`, { resourceType: 'Patient', id: `bm${i}` });
await put('Organization/bench-org', { resourceType: 'Organization', id: 'bench-org', name: 'Bench' });
const episode = (i: number) => ({
  resourceType: 'EpisodeOfCare',
  id: `bep${i % 200}`,
  status: 'active',
  patient: { reference: `Patient/bm${i % members}` },
  managingOrganization: { reference: 'Organization/bench-org' },
  period: { start: '2025-01-01' },
});

async function statementCounts(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const c of children) for (const [k, v] of Object.entries(await c.statements())) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** CPU each party used from now until the returned function is called, µs: this process (load generator and
 * receiver), the Concord process(es) (0 in process) and their PostgreSQL backends (undefined: not measured). */
async function cpuSince(): Promise<() => Promise<{ own: number; concord: number; db: number | undefined }>> {
  const own = process.cpuUsage();
  const concord = await serverCpu();
  const db = await backends?.snapshot();
  return async () => {
    const used = process.cpuUsage(own);
    return { own: used.user + used.system, concord: (await serverCpu()) - concord, db: backends && db ? cpuDelta(db, await backends.snapshot()) : undefined };
  };
}

/** A closed loop's writes per second and the CPU per write of every party (load generator, Concord, PostgreSQL), ms. */
interface Loop {
  perSec: number;
  cpuPerWrite: number;
}

// The checkpoint before the warm-up and the count of those in the rounds (see the header), over a connection of
// its own: its backend is not one of Concord's, whose CPU the blocks measure.
const maintenance = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-checkpoint' });
await maintenance.connect();
/** Checkpoints PostgreSQL has completed so far (timed and requested). */
async function checkpoints(): Promise<number> {
  const res = await maintenance.query<{ n: string }>('SELECT checkpoints_timed + checkpoints_req AS n FROM pg_stat_bgwriter');
  return Number(res.rows[0]?.n ?? 0);
}

async function closedLoop(label: string, durationS: number, profile?: string): Promise<Loop> {
  let n = 0;
  if (profile && cpuProf) await children[0]!.startProfile();
  const statementsBefore = countStatements ? await statementCounts() : undefined;
  const postsBefore = posts;
  const cpu = await cpuSince();
  const until = performance.now() + durationS * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        await put(`EpisodeOfCare/bep${i % 200}`, episode(i++));
        n++;
      }
    }),
  );
  const perSec = n / durationS;
  // CPU per write survives a loaded machine better than writes/s: each party's own, apart.
  const used = await cpu();
  const childCpuText = inProcess ? '' : `, Concord process(es) CPU ${(used.concord / 1000 / n).toFixed(2)} ms/write`;
  const db = used.db === undefined ? '' : `, PostgreSQL backends CPU ${(used.db / 1000 / n).toFixed(2)} ms/write`;
  console.log(`${label}: ${perSec.toFixed(0)} writes/s (${connections} connections, ${durationS} s), ${inProcess ? 'node' : 'load generator + receiver'} CPU ${(used.own / 1000 / n).toFixed(2)} ms/write${childCpuText}${db}`);
  if (profile && cpuProf) await children0Profile(path.join(cpuProf, `${profile}.cpuprofile`));
  if (statementsBefore) await printStatements(statementsBefore, n, posts - postsBefore, true);
  return { perSec, cpuPerWrite: (used.own + used.concord + (used.db ?? 0)) / 1000 / n };
}

/** Statements (and delivery calls by kind) Concord sent since `before`, per write and per POST. */
async function printStatements(before: Map<string, number>, n: number, loopPosts: number, statementRows: boolean): Promise<void> {
  const after = await statementCounts();
  const all = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  // '#'-keys: delivery calls by kind and what they carried (concord-child.ts), not statements.
  const rows = all.filter(([k]) => !k.startsWith('#'));
  const tallies = all.filter(([k]) => k.startsWith('#')).sort(([a], [b]) => a.localeCompare(b));
  const total = rows.reduce((a, [, v]) => a + v, 0);
  const calls = tallies.filter(([k]) => k.startsWith('# call:')).reduce((a, [, v]) => a + v, 0);
  if (calls > 0) console.log(`  delivery calls: ${(calls / n).toFixed(3)} per write${loopPosts ? `, ${(calls / loopPosts).toFixed(2)} per POST; POSTs per write ${(loopPosts / n).toFixed(3)}` : ''}`);
  for (const [k, v] of tallies) console.log(`    ${(v / n).toFixed(3)}/write${loopPosts ? ` ${(v / loopPosts).toFixed(2)}/POST` : ''}  ${k.slice(2)}`);
  if (!statementRows) return;
  console.log(`  statements: ${(total / n).toFixed(2)} per write${loopPosts ? `, ${(total / loopPosts).toFixed(1)} per POST (${loopPosts} POSTs)` : ''}`);
  for (const [k, v] of rows.slice(0, 16)) console.log(`    ${(v / n).toFixed(3)}/write${loopPosts ? ` ${(v / loopPosts).toFixed(2)}/POST` : ''}  ${k}`);
}

function children0Profile(file: string): Promise<void> {
  return children[0]!.stopProfile(file).then(() => console.log(`  CPU profile: ${file}`));
}

// The bench's Subscriptions (all matching every write), written with this status: off, or requested (handshake, then
// active); answers once the change has settled: the handshakes done, or what the last block committed delivered or waiting.
const subscriptions = async (status: 'requested' | 'off'): Promise<void> => {
  for (let s = 0; s < subs; s++) {
    await put(`Subscription/bs${s}`, {
      resourceType: 'Subscription',
      id: `bs${s}`,
      meta: { profile: [BackportUrls.subscriptionProfile] },
      status,
      reason: 'bench',
      criteria: 'http://bench.local/fhir/SubscriptionTopic/enrolment',
      channel: {
        type: 'rest-hook',
        endpoint: `http://127.0.0.1:${receiverPort}/hook`,
        payload: 'application/fhir+json',
        extension: [{ url: BackportUrls.maxCount, valuePositiveInt: maxCount }],
      },
    });
  }
  await new Promise((r) => setTimeout(r, status === 'requested' ? 2000 : 1000));
};

// Throughput without and with the Subscriptions, in `rounds` alternated pairs of blocks.
// CHECKPOINT needs a superuser or pg_checkpoint; without either, the count below still says whether one fell inside.
await maintenance.query('CHECKPOINT').catch((err: unknown) => console.log(`no checkpoint before the warm-up: ${err instanceof Error ? err.message : String(err)}`));
await closedLoop('warm-up', 3);
// The delivery path is warmed up too (the Subscriptions on, as in the rounds), so that neither side of a round
// carries V8's first compilations of its own code: a server that delivers has run that code long before.
await subscriptions('requested');
await closedLoop(`warm-up, ${subs} subscriptions`, 3);
const offs: Loop[] = [];
const ons: Loop[] = [];
const checkpointsBefore = await checkpoints();
let [postsDuring, deliveredDuring] = [0, 0];
for (let round = 1; round <= rounds; round++) {
  const of = rounds > 1 ? ` (round ${round} of ${rounds})` : '';
  await subscriptions('off');
  offs.push(await closedLoop(`throughput, no subscriptions${of}`, seconds, round === 1 ? 'off' : undefined));
  await subscriptions('requested');
  const [postsBefore, deliveredBefore] = [posts, delivered];
  ons.push(await closedLoop(`throughput, ${subs} subscriptions (all matching)${of}`, seconds, round === 1 ? 'on' : undefined));
  [postsDuring, deliveredDuring] = [postsDuring + posts - postsBefore, deliveredDuring + delivered - deliveredBefore];
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const off = mean(offs.map((l) => l.perSec));
const on = mean(ons.map((l) => l.perSec));
if (rounds > 1) {
  const pairs = offs.map((o, i) => `${((ons[i]!.perSec / o.perSec) * 100).toFixed(0)} % (+${(ons[i]!.cpuPerWrite - o.cpuPerWrite).toFixed(2)} ms)`);
  console.log(`  rounds, ratio on/off (CPU per write added): ${pairs.join(', ')}`);
  console.log(`  means: no subscriptions ${off.toFixed(0)} writes/s, ${mean(offs.map((l) => l.cpuPerWrite)).toFixed(2)} ms CPU/write; ${subs} subscriptions ${on.toFixed(0)} writes/s, ${mean(ons.map((l) => l.cpuPerWrite)).toFixed(2)} ms CPU/write`);
}
console.log(`  checkpoints during the rounds: ${(await checkpoints()) - checkpointsBefore}`);
if (dispatch) console.log(`  delivered meanwhile: ${deliveredDuring} events in ${postsDuring} POSTs (${(deliveredDuring / Math.max(1, postsDuring)).toFixed(1)} events per POST)`);
await new Promise((r) => setTimeout(r, 3000)); // drain
if (!dispatch) {
  console.log(`throughput ratio on/off (recording only, no delivery): ${((on / off) * 100).toFixed(0)} %`);
  console.log(`machine: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  await stopServers();
  await maintenance.end();
  receiver.close();
  process.exit(0);
}

// Paced writes: latency from response received (commit done) and from request sent to first arrival.
const fromSent: number[] = [];
const fromCommit: number[] = [];
const pending: Promise<void>[] = [];
let failedWrites = 0;
const total = rate * seconds;
recordArrivals = true;
const start = performance.now();
const [pacedPosts, pacedDelivered] = [posts, delivered];
const pacedStatements = countStatements ? await statementCounts() : undefined;
const pacedCpu = await cpuSince();
for (let i = 0; i < total; i++) {
  const due = start + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const sent = performance.now();
  pending.push(
    put(`EpisodeOfCare/bep${i % 200}`, episode(i)).then(async (version) => {
      const committed = performance.now();
      const key = `EpisodeOfCare/bep${i % 200}/_history/${version}`;
      const deadline = performance.now() + 30_000;
      while (!arrivals.has(key) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      const at = arrivals.get(key);
      if (at !== undefined) {
        fromSent.push(at - sent);
        fromCommit.push(Math.max(0, at - committed));
      }
    }, () => void failedWrites++),
  );
}
await Promise.all(pending);
recordArrivals = false;
const achieved = total / ((performance.now() - start) / 1000);
{
  // The paced phase's CPU per write and delivery calls (before the waits for the last arrivals end).
  const used = await pacedCpu();
  console.log(
    `paced CPU: load generator + receiver ${(used.own / 1000 / total).toFixed(2)} ms/write${inProcess ? '' : `, Concord ${(used.concord / 1000 / total).toFixed(2)} ms/write`}${used.db === undefined ? '' : `, PostgreSQL ${(used.db / 1000 / total).toFixed(2)} ms/write`}`,
  );
  if (pacedStatements) await printStatements(pacedStatements, total, posts - pacedPosts, false);
}
console.log(`paced ${rate}/s x ${seconds} s (achieved ~${achieved.toFixed(0)}/s), ${subs} subscriptions: arrival after commit p50 ${pct(fromCommit, 50).toFixed(1)} ms p99 ${pct(fromCommit, 99).toFixed(1)} ms; after request sent p50 ${pct(fromSent, 50).toFixed(1)} ms p99 ${pct(fromSent, 99).toFixed(1)} ms (${fromSent.length} samples, ${failedWrites} writes refused 503 under overload); ${((delivered - pacedDelivered) / Math.max(1, posts - pacedPosts)).toFixed(1)} events per POST`);

// Catch-up after an outage.
await new Promise((r) => setTimeout(r, 3000));
receiverUp = false;
const before = delivered;
let outageWrites = 0;
const outageEnd = performance.now() + outage * 1000;
const ostart = performance.now();
for (let i = 0; performance.now() < outageEnd; i++) {
  const due = ostart + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  try {
    await put(`EpisodeOfCare/bep${i % 200}`, episode(i));
    outageWrites++;
  } catch {
    failedWrites++;
  }
}
const backlog = outageWrites * subs;
// What delivering one event costs each party with no write running beside it (full batches, back to back).
const catchUpCpu = await cpuSince();
const catchUpPosts = posts;
if (cpuProf) await children[0]!.startProfile();
receiverUp = true;
const upAt = performance.now();
while (delivered - before < backlog && performance.now() - upAt < 300_000) await new Promise((r) => setTimeout(r, 20));
const catchUpS = (performance.now() - upAt) / 1000;
{
  // Read before the profile stops: writing it out is the profiler's CPU, not delivery's.
  const n = Math.max(1, delivered - before);
  const used = await catchUpCpu();
  const eventsPerPost = n / Math.max(1, posts - catchUpPosts);
  if (cpuProf) await children0Profile(path.join(cpuProf, 'catch-up.cpuprofile'));
  console.log(`catch-up after ${outage} s outage: ${delivered - before}/${backlog} events delivered in ${catchUpS.toFixed(1)} s = ${((delivered - before) / catchUpS).toFixed(0)} events/s`);
  console.log(
    `  catch-up CPU per event delivered: receiver ${(used.own / n).toFixed(1)} µs${inProcess ? '' : `, Concord ${(used.concord / n).toFixed(1)} µs`}${used.db === undefined ? '' : `, PostgreSQL ${(used.db / n).toFixed(1)} µs`} (${eventsPerPost.toFixed(1)} events per POST)`,
  );
}
console.log(`throughput ratio on/off: ${((on / off) * 100).toFixed(0)} %`);
console.log(`receiver: ${violations.length === 0 ? 'every Subscription in order, no gaps' : `${violations.length} order/gap violations, first: ${violations.slice(0, 3).join('; ')}`}`);
if (violations.length > 0) process.exitCode = 1;
console.log(`machine: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

await stopServers();
await maintenance.end();
receiver.close();
process.exit();

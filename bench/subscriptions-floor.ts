// What one Subscription event costs, step by step, without HTTP: the CPU of this process (Node) and of
// the PostgreSQL backends (from /proc) for (1) recording a write's events for 10 Subscriptions in its
// transaction, (2) delivering them: the claim that positions, numbers and reads a batch (and acknowledges
// the one before) in one statement, and (3) building, serialising and signing the notification Bundle.
// (The three-statement delivery from before migration 0013 it also measured is gone with its table in
// migration 0014; bench/RESULTS.md keeps its numbers.)
// Each step runs on its own pool (application_name), so the backend CPU of each is read apart.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions-floor.ts [--writes 2000] [--batches 1,8,20] [--subs 10] [--keep]
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { flags } from './args.js';
import { migrate } from '../src/storage/migrate.js';
import { openPostgres } from '../src/storage/postgres.js';
import { SubscriptionStore } from '../src/storage/subscription-store.js';
import type { Database } from '../src/storage/database.js';
import { notificationBundle, type NotificationContext } from '../src/subscriptions/notification.js';
import { webhookHeaders } from '../src/subscriptions/signing.js';
import type { Acknowledgement, DeliveryState, StoredNotification } from '../src/subscriptions/store.js';

const f = flags(process.argv.slice(2));
const writes = f.num('writes', 2000, 1, true);
const subs = f.num('subs', 10, 1, true);
const batches = (f.value('batches') ?? '1,8,20').split(',').map(Number);
// --keep: leave the schema for EXPLAIN (its name is printed).
const keep = process.argv.includes('--keep');
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const schema = `bench_subfloor_${randomUUID().slice(0, 8)}`;

const open = (name: string, max = 1): Promise<Database> => openPostgres({ connectionString: url, schema, max, applicationName: `${schema}_${name}` });
const admin = await open('admin', 2);
await migrate(admin);
const recordDb = await open('record');
const deliverDb = await open('deliver');
const recorder = new SubscriptionStore(recordDb);
const store = new SubscriptionStore(deliverDb);
const probe = new pg.Client({ connectionString: url });
await probe.connect();

/** CPU (µs) of the backends of one pool so far. */
async function backendCpu(name: string): Promise<number> {
  const res = await probe.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [`${schema}_${name}`]);
  let total = 0;
  for (const { pid } of res.rows) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  }
  return total;
}
const nodeCpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

for (let s = 0; s < subs; s++) {
  const id = `fs${s}`;
  await admin.query(
    `INSERT INTO subscription_channel (subscription_id, status, topic, criteria_type, criteria, filters, channel_type, endpoint, payload, headers, secret, max_count)
     VALUES ($1, 'active', 't', 'EpisodeOfCare', '', '[]', 'rest-hook', 'http://127.0.0.1:9/hook', 'id-only', '[]', $2, 20)`,
    [id, SECRET],
  );
  await admin.query('INSERT INTO subscription_delivery (subscription_id, handshake_done) VALUES ($1, true)', [id]);
}

let w = 0;
const record = (): Promise<void> =>
  recorder.appendAlone(
    (candidates) => candidates.map((c) => ({ subscriptionId: c.id, topic: 't', focusType: 'EpisodeOfCare', focusId: `bep${w % 200}`, focusVersion: ++w, member: `bm${w % 20}` })),
    ['t'],
  );
const recordNothing = (): Promise<void> => recorder.appendAlone(() => [], ['t']);

const ctx: NotificationContext = { base: 'http://bench.local/fhir', loadFocus: () => Promise.resolve(undefined), mayDisclose: () => Promise.resolve(true) };
let buildCpu = 0;
async function build(id: string, eventsCount: number, batch: StoredNotification[]): Promise<void> {
  const t = nodeCpu();
  const now = new Date();
  const state: DeliveryState = { id, status: 'active', topic: 'enrolment', criteriaType: 'EpisodeOfCare', criteria: '', channelType: 'rest-hook', payload: 'id-only', headers: [], secret: SECRET, maxCount: 20, eventsCount, generation: 1, deliveredThrough: 0, handshakeDone: true, attempts: 0 };
  const body = JSON.stringify(await notificationBundle(state, 'event-notification', batch, ctx, now));
  webhookHeaders(SECRET, `${id}-${batch[0]?.eventNumber}`, body, now);
  buildCpu += nodeCpu() - t;
}

async function drainAfter(): Promise<number> {
  let posts = 0;
  let ack: Acknowledgement | undefined;
  for (;;) {
    const c = await store.claim('floor', 60_000, ack);
    ack = undefined;
    if (!c) return posts;
    if (c.batch.length > 0) {
      posts++;
      await build(c.id, c.eventsCount, c.batch);
    }
    ack = { id: c.id, deliveredThrough: c.batch.at(-1)?.eventNumber ?? c.deliveredThrough };
  }
}

const rows: string[] = [];
async function measureRecording(): Promise<void> {
  for (let i = 0; i < 200; i++) await record();
  for (const [name, fn] of [['write transaction, no Subscription event', recordNothing], [`write transaction, ${subs} events`, record]] as const) {
    const [n0, b0] = [nodeCpu(), await backendCpu('record')];
    for (let i = 0; i < writes; i++) await fn();
    const [n1, b1] = [nodeCpu(), await backendCpu('record')];
    rows.push(`| recording: ${name} | per write | ${((n1 - n0) / writes).toFixed(0)} | ${((b1 - b0) / writes).toFixed(0)} |`);
  }
  await drainAfter();
}

async function measureDelivery(label: string, drain: () => Promise<number>, perBatch: number): Promise<void> {
  let posts = 0;
  let nodeUsed = 0;
  let backendUsed = 0;
  buildCpu = 0;
  const rounds = Math.max(1, Math.floor(writes / perBatch / 2));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < perBatch; i++) await record();
    const [n0, b0] = [nodeCpu(), await backendCpu('deliver')];
    posts += await drain();
    nodeUsed += nodeCpu() - n0;
    backendUsed += (await backendCpu('deliver')) - b0;
  }
  const events = posts * perBatch;
  rows.push(
    `| delivery ${label}, ${perBatch} event(s) per POST: claim, number, read, acknowledge | per event | ${((nodeUsed - buildCpu) / events).toFixed(0)} | ${(backendUsed / events).toFixed(0)} |`,
    `| delivery ${label}, ${perBatch} event(s) per POST: the same | per POST | ${((nodeUsed - buildCpu) / posts).toFixed(0)} | ${(backendUsed / posts).toFixed(0)} |`,
    `| Bundle build + JSON + signature, ${perBatch} event(s) per POST | per event | ${(buildCpu / events).toFixed(0)} | - |`,
  );
}

try {
  await measureRecording();
  for (const b of batches) {
    await measureDelivery('(1 statement)', drainAfter, b);
  }
  process.stdout.write(`${subs} Subscriptions, ${writes} writes per measurement; CPU in µs (Node: this process; PostgreSQL: the step's own backend, from /proc)\n\n`);
  process.stdout.write('| step | unit | Node CPU µs | PostgreSQL CPU µs |\n|---|---|---:|---:|\n');
  process.stdout.write(rows.join('\n') + '\n');
} finally {
  await probe.end();
  await recordDb.close();
  await deliverDb.close();
  if (keep) process.stdout.write(`schema kept: ${schema}\n`);
  else await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.close();
}

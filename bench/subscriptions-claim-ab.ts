// Side by side, interleaved on one machine state: PostgreSQL CPU of recording a write's events for 10
// Subscriptions and of delivering them, before migration 0016 ("before": 0014's subscription_deliver, the
// due index, NOTIFY as a statement of its own) and after it ("after": NOTIFY in the insert, HOT delivery
// updates, the kept lease after a full batch, the idle sweep only past 64 positions of lag). Two fresh
// schemas of this checkout's migrations (one stopped before 0016), 10 Subscriptions each (max count 20).
// Each round records --writes writes (one event naming all 10 Subscriptions each) per variant, then
// delivers until nothing is due, as the dispatcher's worker does (the next call acknowledges; "after"
// asks to keep a Subscription after a full batch, at most 4 batches in a row). --writes 8: batches of 8
// (never full: the claim path); --writes 60: a backlog (full batches: the kept path). CPU is each
// backend's own time on CPU (/proc/<pid>/schedstat, nanoseconds). Variants alternate every round.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions-claim-ab.ts [--writes 8] [--rounds 60]
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import pg from 'pg';
import { flags } from './args.js';
import { loadMigrations, migrate } from '../src/storage/migrate.js';
import { openPostgres } from '../src/storage/postgres.js';

const f = flags(process.argv.slice(2));
const writes = f.num('writes', 8, 1, true);
const rounds = f.num('rounds', 60, 2, true);
const warmup = Math.max(1, Math.floor(rounds / 6));
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
const ids = Array.from({ length: 10 }, (_, i) => `fs${i}`);

async function cpuNs(pid: number): Promise<number> {
  return Number((await readFile(`/proc/${pid}/schedstat`, 'utf8')).split(' ')[0]);
}

interface Variant {
  name: 'before' | 'after';
  schema: string;
  writer: pg.Client;
  deliverer: pg.Client;
  listener: pg.Client;
  pids: { writer: number; deliverer: number };
  totals: { record: number; writes: number; deliver: number; posts: number; calls: number };
}

async function client(schema: string): Promise<{ c: pg.Client; pid: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`SET search_path = ${schema}`);
  return { c, pid: (await c.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p };
}

async function variant(name: Variant['name']): Promise<Variant> {
  const schema = `bench_claimab_${randomBytes(4).toString('hex')}`;
  const all = await loadMigrations();
  const admin = await openPostgres({ connectionString: url!, schema, max: 2 });
  await migrate(admin, name === 'before' ? all.filter((m) => m.name < '0016') : all);
  for (const id of ids) {
    await admin.query(
      `INSERT INTO subscription_channel (subscription_id, status, topic, criteria_type, criteria, filters, channel_type, endpoint, payload, headers, max_count)
       VALUES ($1, 'active', 't', 'EpisodeOfCare', '', '[]', 'rest-hook', 'http://127.0.0.1:9/hook', 'id-only', '[]', 20)`,
      [id],
    );
    await admin.query('INSERT INTO subscription_delivery (subscription_id, handshake_done) VALUES ($1, true)', [id]);
  }
  await admin.close();
  const w = await client(schema);
  const d = await client(schema);
  const l = await client(schema);
  await l.c.query(`LISTEN ${schema}`);
  return { name, schema, writer: w.c, deliverer: d.c, listener: l.c, pids: { writer: w.pid, deliverer: d.pid }, totals: { record: 0, writes: 0, deliver: 0, posts: 0, calls: 0 } };
}

const INSERT = `INSERT INTO subscription_event (subscription_ids, topic, focus_type, focus_id, focus_version, member_id)
  VALUES (string_to_array($1, ','), 't', 'EpisodeOfCare', 'bep1', $2, 'bm1')`;
let version = 0;

async function record(v: Variant): Promise<void> {
  await v.writer.query('BEGIN');
  if (v.name === 'before') {
    await v.writer.query({ name: 'record', text: INSERT, values: [ids.join(','), ++version] });
    await v.writer.query({ name: 'notify', text: 'SELECT pg_notify($1, $2)', values: [v.schema, ''] });
  } else {
    await v.writer.query({ name: 'record', text: `WITH recorded AS (${INSERT}) SELECT pg_notify($3, '')`, values: [ids.join(','), ++version, v.schema] });
  }
  await v.writer.query('COMMIT');
}

async function drain(v: Variant): Promise<{ posts: number; calls: number }> {
  let posts = 0;
  let calls = 0;
  let ack: { id: string; through: number; keep: boolean } | undefined;
  let last: string | undefined;
  let inRow = 0;
  for (;;) {
    const keep = ack?.keep === true && inRow < 4;
    const res = await v.deliverer.query<{ subscription_id: string; delivered_through: string; max_count: number; events: unknown[] | null }>(
      v.name === 'before'
        ? { name: 'deliver', text: 'SELECT subscription_id, delivered_through, max_count, events FROM subscription_deliver($1, $2, $3, $4, 0)', values: ['ab', 60_000, ack?.id ?? null, ack?.through ?? null] }
        : { name: 'deliver', text: 'SELECT subscription_id, delivered_through, max_count, events FROM subscription_deliver($1, $2, $3, $4, 0, $5)', values: ['ab', 60_000, ack?.id ?? null, ack?.through ?? null, keep] },
    );
    calls++;
    const row = res.rows[0];
    if (!row) return { posts, calls };
    inRow = row.subscription_id === last ? inRow + 1 : 1;
    last = row.subscription_id;
    const n = row.events?.length ?? 0;
    posts++;
    ack = { id: row.subscription_id, through: Number(row.delivered_through) + n, keep: n === row.max_count };
  }
}

const variants = [await variant('before'), await variant('after')];
try {
  for (let round = 0; round < rounds; round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const r0 = await cpuNs(v.pids.writer);
      for (let i = 0; i < writes; i++) await record(v);
      const r1 = await cpuNs(v.pids.writer);
      const d0 = await cpuNs(v.pids.deliverer);
      const { posts, calls } = await drain(v);
      const d1 = await cpuNs(v.pids.deliverer);
      if (round < warmup) continue;
      v.totals.record += r1 - r0;
      v.totals.writes += writes;
      v.totals.deliver += d1 - d0;
      v.totals.posts += posts;
      v.totals.calls += calls;
    }
  }
  process.stdout.write(`${writes} writes per round (1 event for 10 Subscriptions each), ${rounds - warmup} measured rounds per variant, alternated; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n\n`);
  process.stdout.write('| variant | recording: PostgreSQL µs per write | delivery: PostgreSQL µs per POST | events per POST | calls per POST |\n|---|---:|---:|---:|---:|\n');
  for (const v of variants) {
    const t = v.totals;
    process.stdout.write(`| ${v.name} | ${(t.record / t.writes / 1000).toFixed(0)} | ${(t.deliver / t.posts / 1000).toFixed(0)} | ${((t.writes * ids.length) / t.posts).toFixed(1)} | ${(t.calls / t.posts).toFixed(2)} |\n`);
  }
} finally {
  for (const v of variants) {
    await v.writer.end();
    await v.deliverer.end();
    await v.listener.end();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${v.schema} CASCADE`);
    await admin.end();
  }
}

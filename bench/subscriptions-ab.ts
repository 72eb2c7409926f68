// Side by side, interleaved, on one machine state: PostgreSQL CPU of recording a write's events for 10
// Subscriptions and of delivering them (subscription_deliver, 8 events per POST), in a schema with the
// per-Subscription rows of migrations 0011/0013 ("old") and one with the event log of migration 0014
// ("new"). Both schemas come from `bench/subscriptions-floor.ts --keep` run on a checkout before and after
// migration 0014 (10 Subscriptions fs0..fs9). Four rounds each, alternated, so machine load hits both alike.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions-ab.ts <old schema> <new schema>
import { readFile } from 'node:fs/promises';
import pg from 'pg';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const [oldSchema, newSchema] = process.argv.slice(2);
if (!oldSchema || !newSchema || ![oldSchema, newSchema].every((s) => /^[a-z_][a-z0-9_]*$/.test(s))) throw new Error('usage: subscriptions-ab.ts <old schema> <new schema>');
const ids = Array.from({ length: 10 }, (_, i) => `fs${i}`);
const WRITES = 8;
const ROUNDS = 60;
const WARMUP = 10;

/** CPU (µs) of one backend so far, from /proc. */
async function backendCpu(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
}

async function connect(schema: string): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`SET search_path = ${schema}`);
  const pid = (await client.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
  return { client, pid };
}

const OLD_RECORD = `WITH s AS MATERIALIZED (SELECT subscription_id FROM subscription_channel WHERE subscription_id = ANY($1::text[]) ORDER BY subscription_id FOR KEY SHARE)
  INSERT INTO subscription_notification (subscription_id, topic, focus_type, focus_id, focus_version, member_id)
  SELECT s.subscription_id, 't', 'EpisodeOfCare', 'bep1', $2, 'bm1' FROM s`;
const NEW_RECORD = `INSERT INTO subscription_event (subscription_ids, topic, focus_type, focus_id, focus_version, member_id)
  VALUES (string_to_array($1, ','), 't', 'EpisodeOfCare', 'bep1', $2, 'bm1')`;

let version = 1_000_000;
const totals = { old: { deliver: 0, posts: 0, record: 0, writes: 0 }, new: { deliver: 0, posts: 0, record: 0, writes: 0 } };
for (let rep = 0; rep < 4; rep++) {
  for (const variant of ['old', 'new'] as const) {
    const writer = await connect(variant === 'old' ? oldSchema : newSchema);
    const deliverer = await connect(variant === 'old' ? oldSchema : newSchema);
    for (let round = 0; round < ROUNDS; round++) {
      const r0 = await backendCpu(writer.pid);
      for (let i = 0; i < WRITES; i++) {
        await writer.client.query('BEGIN');
        if (variant === 'old') await writer.client.query({ name: 'record', text: OLD_RECORD, values: [ids, ++version] });
        else await writer.client.query({ name: 'record', text: NEW_RECORD, values: [ids.join(','), ++version] });
        await writer.client.query('COMMIT');
      }
      const r1 = await backendCpu(writer.pid);
      const d0 = await backendCpu(deliverer.pid);
      let posts = 0;
      let ack: { id: string; through: number } | undefined;
      for (;;) {
        const res = await deliverer.client.query<{ subscription_id: string; events_count: string }>({
          name: 'deliver',
          text: 'SELECT subscription_id, events_count FROM subscription_deliver($1, $2, $3, $4, $5)',
          values: ['ab', 60_000, ack?.id ?? null, ack?.through ?? null, 0],
        });
        const row = res.rows[0];
        if (!row) break;
        posts++;
        ack = { id: row.subscription_id, through: Number(row.events_count) };
      }
      if (round >= WARMUP) {
        const t = totals[variant];
        t.deliver += (await backendCpu(deliverer.pid)) - d0;
        t.posts += posts;
        t.record += r1 - r0;
        t.writes += WRITES;
      }
    }
    await writer.client.end();
    await deliverer.client.end();
  }
}
process.stdout.write('| schema | recording: PostgreSQL µs per write (10 events, BEGIN..COMMIT) | delivery: PostgreSQL µs per POST (8 events) | POSTs |\n|---|---:|---:|---:|\n');
for (const [name, t] of Object.entries(totals)) {
  process.stdout.write(`| ${name} | ${(t.record / t.writes).toFixed(0)} | ${(t.deliver / t.posts).toFixed(0)} | ${t.posts} |\n`);
}

// subscription_deliver (one Subscription per call) against subscription_deliver_many (several per call,
// docs/adr/0027) in ONE schema, rounds interleaved (ABBA), each mode on a backend of its own so its CPU is
// read apart (/proc): per round, 13 event rows naming every Subscription of the schema (as the benchmark's
// writes record them), then drained
//   one:  as a dispatcher before migration 0018 does: each call acknowledges the previous batch and
//         claims one Subscription, until a call finds nothing (Subscriptions + 1 calls);
//   many: as the dispatcher after it does when receivers answer together: each call acknowledges every
//         batch of the previous call and claims up to --limit Subscriptions, until one finds nothing.
// Reports delivery backend CPU per POST (one batch to one Subscription) and calls per POST. Make the schema
// with `bench/subscriptions-floor.ts --keep` in a tree that has migration 0018.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions-deliver-many-ab.ts <schema> [rounds] [--limit 8]
import pg from 'pg';
import { processCpuUs } from './process-cpu.js';

/** CPU (µs) of a backend so far (it stays connected for the whole bench). */
const backendCpu = (pid: number): number => processCpuUs(pid) ?? 0;

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--limit');
const [schema] = positional;
if (!schema) throw new Error('usage: subscriptions-deliver-many-ab.ts <schema> [rounds] [--limit 8]');
const rounds = Number(positional[1] ?? 200);
const limitAt = process.argv.indexOf('--limit');
const limit = limitAt > 0 ? Number(process.argv[limitAt + 1]) : 8;
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await c.connect();
  return c;
}

type Tuple = [number, ...unknown[]];
interface DeliverRow {
  subscription_id: string;
  delivered_through: string;
  events: Tuple[] | null;
}

interface Mode {
  name: 'one' | 'many';
  del: pg.Client;
  pid: number;
  posts: number;
  calls: number;
  cpu: number;
}

const rec = await client();
const subs = (await rec.query<{ a: string[] }>('SELECT array_agg(subscription_id ORDER BY subscription_id) AS a FROM subscription_channel')).rows[0]!.a;
const through = (row: DeliverRow): number => {
  const events = row.events ?? [];
  return events.length ? events[events.length - 1]![0] : Number(row.delivered_through);
};
let call = 0;

async function drainOne(m: Mode): Promise<void> {
  let ack: string | null = null;
  let to: number | null = null;
  for (;;) {
    m.calls++;
    const res: pg.QueryResult<DeliverRow> = await m.del.query<DeliverRow>({
      name: 'deliver',
      text: 'SELECT * FROM subscription_deliver($1, $2, $3, $4, $5, $6)',
      values: ['ab-one', 60_000, ack, to, 0, false],
    });
    const row = res.rows[0];
    if (!row) return;
    m.posts++;
    ack = row.subscription_id;
    to = through(row);
  }
}

async function drainMany(m: Mode): Promise<void> {
  let acks: { id: string; owner: string; through: number }[] = [];
  for (;;) {
    const owner = `ab-many/${++call}`;
    m.calls++;
    const res: pg.QueryResult<DeliverRow> = await m.del.query<DeliverRow>({
      name: 'deliver-many',
      text: 'SELECT * FROM subscription_deliver_many($1, $2, $3::text[], $4::text[], $5::bigint[], $6::int[], $7)',
      values: [owner, 60_000, acks.map((a) => a.id), acks.map((a) => a.owner), acks.map((a) => a.through), acks.map(() => 0), limit],
    });
    if (res.rows.length === 0) return;
    m.posts += res.rows.length;
    acks = res.rows.map((row) => ({ id: row.subscription_id, owner, through: through(row) }));
  }
}

async function round(m: Mode): Promise<void> {
  for (let k = 0; k < 13; k++) {
    await rec.query({
      name: 'record',
      text: `INSERT INTO subscription_event (subscription_ids, topic, focus_type, focus_id, focus_version, member_id) VALUES ($1::text[], 't', 'EpisodeOfCare', 'bep1', 1, 'bm1')`,
      values: [subs],
    });
  }
  const before = backendCpu(m.pid);
  await (m.name === 'one' ? drainOne(m) : drainMany(m));
  m.cpu += backendCpu(m.pid) - before;
}

async function mode(name: Mode['name']): Promise<Mode> {
  const del = await client();
  const pid = (await del.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
  return { name, del, pid, posts: 0, calls: 0, cpu: 0 };
}

const modes = [await mode('one'), await mode('many')] as const;
try {
  for (let r = 0; r < rounds; r++) {
    const [first, second] = r % 2 ? [modes[1], modes[0]] : [modes[0], modes[1]];
    await round(first);
    await round(second);
  }
  for (const m of modes) {
    console.log(
      `${m.name}: ${m.posts} POSTs in ${m.calls} calls (${(m.calls / m.posts).toFixed(2)} per POST); delivery backend CPU ${(m.cpu / m.posts).toFixed(0)} µs per POST, ${(m.cpu / m.calls).toFixed(0)} per call`,
    );
  }
} finally {
  await rec.end();
  for (const m of modes) await m.del.end();
}

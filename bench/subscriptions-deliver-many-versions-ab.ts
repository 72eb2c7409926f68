// Two versions of subscription_deliver_many against each other, rounds interleaved (ABBA), each schema on a
// backend of its own so its CPU is read apart (/proc): e.g. a schema migrated through 0018 (made with
// `bench/subscriptions-floor.ts --keep` in a checkout before migration 0020) against one migrated through
// 0020 (the same, in this tree). Per round, 13 event rows naming every Subscription of the schema (as the
// benchmark's writes record them), then drained as the dispatcher drains them when receivers answer
// together: each call acknowledges every batch of the previous call and claims up to --limit
// Subscriptions, until one finds nothing. Reports delivery backend CPU per POST and per call.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions-deliver-many-versions-ab.ts <schema A> <schema B> [rounds] [--limit 8] [--events 13]
import type pg from 'pg';
import { openDeliverySide, type DeliverySide } from './delivery-side.js';
import { processCpuUs } from './process-cpu.js';

/** CPU (µs) of a backend so far (it stays connected for the whole bench). */
const backendCpu = (pid: number): number => processCpuUs(pid) ?? 0;

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const [schemaA, schemaB] = positional;
if (!schemaA || !schemaB) throw new Error('usage: subscriptions-deliver-many-versions-ab.ts <schema A> <schema B> [rounds] [--limit 8] [--events 13]');
const rounds = Number(positional[2] ?? 200);
const limit = option('limit', 8);
const eventsPerRound = option('events', 13);
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface DeliverRow {
  subscription_id: string;
  delivered_through: string;
  events: [number, ...unknown[]][] | null;
}

interface Side extends DeliverySide {
  posts: number;
  calls: number;
  events: number;
  cpu: number;
}

async function side(schema: string): Promise<Side> {
  return { ...(await openDeliverySide(url, schema)), posts: 0, calls: 0, events: 0, cpu: 0 };
}

let call = 0;
async function round(s: Side): Promise<void> {
  for (let k = 0; k < eventsPerRound; k++) {
    await s.rec.query({
      name: 'record',
      text: `INSERT INTO subscription_event (subscription_ids, topic, focus_type, focus_id, focus_version, member_id) VALUES ($1::text[], 't', 'EpisodeOfCare', 'bep1', 1, 'bm1')`,
      values: [s.subs],
    });
  }
  const before = backendCpu(s.pid);
  let acks: { id: string; owner: string; through: number }[] = [];
  for (;;) {
    const owner = `ab-versions/${++call}`;
    s.calls++;
    const res: pg.QueryResult<DeliverRow> = await s.del.query<DeliverRow>({
      name: 'deliver-many',
      text: 'SELECT * FROM subscription_deliver_many($1, $2, $3::text[], $4::text[], $5::bigint[], $6::int[], $7)',
      values: [owner, 60_000, acks.map((a) => a.id), acks.map((a) => a.owner), acks.map((a) => a.through), acks.map(() => 0), limit],
    });
    if (res.rows.length === 0) break;
    s.posts += res.rows.length;
    acks = res.rows.map((row) => {
      const events = row.events ?? [];
      s.events += events.length;
      return { id: row.subscription_id, owner, through: events.length ? events[events.length - 1]![0] : Number(row.delivered_through) };
    });
  }
  s.cpu += backendCpu(s.pid) - before;
}

const sides = [await side(schemaA), await side(schemaB)] as const;
try {
  for (let r = 0; r < rounds; r++) {
    const [first, second] = r % 2 ? [sides[1], sides[0]] : [sides[0], sides[1]];
    await round(first);
    await round(second);
  }
  for (const s of sides) {
    console.log(
      `${s.schema}: ${s.posts} POSTs (${(s.events / s.posts).toFixed(1)} events each) in ${s.calls} calls; delivery backend CPU ${(s.cpu / s.posts).toFixed(0)} µs per POST, ${(s.cpu / s.calls).toFixed(0)} per call, ${(s.cpu / s.events).toFixed(1)} per event`,
    );
  }
} finally {
  for (const s of sides) {
    await s.rec.end();
    await s.del.end();
  }
}

// subscription_deliver of two schemas compared in one process, rounds interleaved (ABBA), so the machine's
// load and the age of the oldest open transaction weigh on both alike: per round, 13 event rows naming every
// Subscription of the schema (as the benchmark's writes record them), then drained as one dispatcher worker
// does (acknowledging each batch in the next call). Reports the CPU of each schema's delivery backend
// (/proc) per POST. Make the schemas with `bench/subscriptions-floor.ts --keep` in each tree.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions-deliver-ab.ts <schema A> <schema B> [rounds]
import type pg from 'pg';
import { openDeliverySide, type DeliverySide } from './delivery-side.js';
import { processCpuUs } from './process-cpu.js';

/** CPU (µs) of a backend so far (it stays connected for the whole bench). */
const backendCpu = (pid: number): number => processCpuUs(pid) ?? 0;

const [schemaA, schemaB] = process.argv.slice(2, 4);
if (!schemaA || !schemaB) throw new Error('usage: subscriptions-deliver-ab.ts <schema A> <schema B> [rounds]');
const rounds = Number(process.argv[4] ?? 100);
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Side extends DeliverySide {
  posts: number;
  cpu: number;
}

async function side(schema: string): Promise<Side> {
  return { ...(await openDeliverySide(url, schema)), posts: 0, cpu: 0 };
}

type Tuple = [number, ...unknown[]];
interface DeliverRow {
  subscription_id: string;
  delivered_through: string;
  events: Tuple[] | null;
}

async function round(s: Side): Promise<void> {
  for (let k = 0; k < 13; k++) {
    await s.rec.query({
      name: 'record',
      text: `INSERT INTO subscription_event (subscription_ids, topic, focus_type, focus_id, focus_version, member_id) VALUES ($1::text[], 't', 'EpisodeOfCare', 'bep1', 1, 'bm1')`,
      values: [s.subs],
    });
  }
  const before = backendCpu(s.pid);
  let ack: string | null = null;
  let through: number | null = null;
  for (;;) {
    const res: pg.QueryResult<DeliverRow> = await s.del.query<DeliverRow>({
      name: 'deliver',
      text: 'SELECT * FROM subscription_deliver($1, $2, $3, $4, $5, $6)',
      values: ['ab', 60_000, ack, through, 0, false],
    });
    const row = res.rows[0];
    if (!row) break;
    s.posts++;
    const events = row.events ?? [];
    ack = row.subscription_id;
    through = events.length ? events[events.length - 1]![0] : Number(row.delivered_through);
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
  for (const s of sides) console.log(`${s.schema}: ${s.posts} POSTs; delivery backend CPU ${(s.cpu / s.posts).toFixed(0)} µs per POST (${(s.cpu / s.posts / 13).toFixed(1)} per event)`);
} finally {
  for (const s of sides) {
    await s.rec.end();
    await s.del.end();
  }
}

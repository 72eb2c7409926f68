// The two connections a delivery-function A/B bench holds per schema (one made by bench/subscriptions-floor.ts
// --keep): one records events as writes would, the other calls the delivery function, and that backend's pid
// is the one whose CPU is counted. Shared by subscriptions-deliver-ab.ts and subscriptions-deliver-many-versions-ab.ts.
import pg from 'pg';

export interface DeliverySide {
  schema: string;
  /** Records events (the writes' side). */
  rec: pg.Client;
  /** Calls the delivery function; its backend's CPU is the measure. */
  del: pg.Client;
  pid: number;
  /** The schema's Subscriptions, by id. */
  subs: string[];
}

async function client(url: string, schema: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await c.connect();
  return c;
}

export async function openDeliverySide(url: string, schema: string): Promise<DeliverySide> {
  const rec = await client(url, schema);
  const del = await client(url, schema);
  const pid = (await del.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
  const subs = (await rec.query<{ a: string[] }>('SELECT array_agg(subscription_id ORDER BY subscription_id) AS a FROM subscription_channel')).rows[0]!.a;
  return { schema, rec, del, pid, subs };
}

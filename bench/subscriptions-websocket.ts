// Websocket channel benchmark (issue 11), on PostgreSQL, in one process: N websocket Subscriptions that
// all match, each bound by its own socket (a `ws` client on 127.0.0.1); paced writes; commit (response
// received) -> arrival latency on the sockets, and a check that every socket saw 1..N in order.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions-websocket.ts [--rate 100] [--seconds 10] [--subs 10]
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { openPostgres } from '../src/storage/postgres.js';
import { BackportUrls } from '../src/subscriptions/topics.js';
import { flags } from './args.js';

interface RawSocket {
  on(event: 'open', fn: () => void): void;
  on(event: 'message', fn: (data: Buffer) => void): void;
  send(text: string): void;
  close(): void;
}
const WebSocketClass = createRequire(import.meta.url)('ws') as new (url: string) => RawSocket;

const args = flags(process.argv.slice(2));
const rate = args.num('rate', 100, 1);
const seconds = args.num('seconds', 10, 1);
const subs = args.num('subs', 10, 1, true);
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

const schema = `bench_ws_${randomBytes(4).toString('hex')}`;
const db = await openPostgres({ connectionString: databaseUrl, schema, max: 30 });
const config = loadConfig({ HOST: '127.0.0.1', CONCORD_AUTH: 'off', RATE_LIMIT_PER_MINUTE: '0', BASE_URL: 'http://bench.local/fhir', DATABASE_URL: databaseUrl, SUBSCRIPTION_POLL_MS: '200' });
const server = await createServer(config, false, db);
const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
const base = `${address}/fhir`;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}/${path}`, { method, headers: { 'content-type': 'application/fhir+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: await res.json() };
}

const members = 20;
for (let i = 0; i < members; i++) await call('PUT', `Patient/wm${i}`, { resourceType: 'Patient', id: `wm${i}` });
await call('PUT', 'Organization/bench-org', { resourceType: 'Organization', id: 'bench-org', name: 'Bench' });

// Arrival of each focus version per socket; event numbers per socket.
const arrivals = new Map<string, number[]>();
const numbers: number[][] = [];
const sockets: RawSocket[] = [];
for (let s = 0; s < subs; s++) {
  await call('PUT', `Subscription/ws${s}`, {
    resourceType: 'Subscription',
    id: `ws${s}`,
    meta: { profile: [BackportUrls.subscriptionProfile] },
    status: 'requested',
    reason: 'bench',
    criteria: 'http://bench.local/fhir/SubscriptionTopic/enrolment',
    channel: { type: 'websocket', payload: 'application/fhir+json', extension: [{ url: BackportUrls.maxCount, valuePositiveInt: 20 }] },
  });
  const token = ((await call('GET', `Subscription/ws${s}/$get-ws-binding-token`)).json as { parameter: { name: string; valueString?: string }[] }).parameter.find((p) => p.name === 'token')!.valueString!;
  const socket = new WebSocketClass(`${address.replace(/^http/, 'ws')}/fhir/ws`);
  await new Promise<void>((r) => socket.on('open', r));
  const seen: number[] = [];
  numbers.push(seen);
  socket.on('message', (data) => {
    const now = performance.now();
    const body = data.toString('utf8');
    for (const m of body.matchAll(/"event-number"[^}]*?"valueString":"(\d+)"/g)) seen.push(Number(m[1]));
    for (const m of body.matchAll(/"reference":"[^"]*\/(EpisodeOfCare\/[^"/]+\/_history\/\d+)"/g)) {
      const list = arrivals.get(m[1]!) ?? [];
      list.push(now);
      arrivals.set(m[1]!, list);
    }
  });
  socket.send(`bind-with-token: ${token}`);
  sockets.push(socket);
}

const committed = new Map<string, number>();
const pending: Promise<void>[] = [];
const total = Math.round(rate * seconds);
const start = performance.now();
for (let i = 0; i < total; i++) {
  const due = start + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  pending.push(
    (async () => {
      const id = `wep${i}`;
      const res = await fetch(`${base}/EpisodeOfCare/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'EpisodeOfCare', id, status: 'active', patient: { reference: `Patient/wm${i % members}` }, managingOrganization: { reference: 'Organization/bench-org' }, period: { start: '2025-01-01' } }),
      });
      await res.arrayBuffer();
      if (res.status < 300) committed.set(`EpisodeOfCare/${id}/_history/1`, performance.now());
    })(),
  );
}
await Promise.all(pending);
const drainUntil = performance.now() + 30_000;
while (performance.now() < drainUntil && [...committed.keys()].some((k) => (arrivals.get(k)?.length ?? 0) < subs)) await new Promise((r) => setTimeout(r, 50));

const latencies: number[] = [];
for (const [key, at] of committed) for (const arrived of arrivals.get(key) ?? []) latencies.push(Math.max(0, arrived - at));
const gapless = numbers.every((seen) => seen.every((n, i) => n === i + 1) && seen.length === committed.size);
console.log(`paced ${rate} writes/s for ${seconds} s: ${committed.size}/${total} committed; ${subs} sockets; ${latencies.length} socket arrivals`);
console.log(`commit -> socket arrival: p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms; every socket 1..N in order, gapless: ${gapless}`);
console.log(`machine: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const s of sockets) s.close();
await server.close();
const drop = await openPostgres({ connectionString: databaseUrl, schema });
await drop.query(`DROP SCHEMA ${schema} CASCADE`);
await drop.close();
process.exit(0);

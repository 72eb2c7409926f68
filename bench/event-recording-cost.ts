// What recording ten Subscriptions' events adds to a write, on PostgreSQL, per write: statements, round
// trips, this process's CPU (in-process Concord and its HTTP client) and the CPU of the pool's PostgreSQL
// backends. Ten topic Subscriptions (enrolment) filtered on one member; EpisodeOfCare updates of that
// member match all ten ("ten"), the same updates of another member match none ("none": the recorder
// still runs, finds no event to store). Delivery is off, so only the write side is measured. The two
// kinds alternate in rounds of sequential requests, so machine load hits both alike.
//
//   DATABASE_URL=postgres://... npx tsx bench/event-recording-cost.ts [--n 200] [--rounds 6]
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { flags } from './args.js';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { openPostgres } from '../src/storage/postgres.js';
import { migrate } from '../src/storage/migrate.js';
import { processCpuUs } from './process-cpu.js';
import { countStatements } from './statement-counter.js';

const f = flags(process.argv.slice(2));
const n = f.num('n', 200, 1, true);
const rounds = f.num('rounds', 6, 1, true);
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_rec_${randomUUID().slice(0, 8)}`;

const counter = countStatements();

const applicationName = `concord_${schema}`;
const db = await openPostgres({ connectionString: url, schema, max: 4, applicationName });
await migrate(db);
const server = await createServer(
  loadConfig({ BASE_URL: 'http://bench.local/fhir', LOG_LEVEL: 'silent', HOST: '127.0.0.1', CONCORD_AUTH: 'off', RATE_LIMIT_PER_MINUTE: '0', SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' }),
  false,
  db,
  { webhookResolver: () => Promise.resolve([]) },
);
await server.app.listen({ host: '127.0.0.1', port: 0 });
const address = server.app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/fhir`;

async function put(path: string, body: unknown): Promise<number> {
  const res = await fetch(`${base}/${path}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

/**
 * CPU (µs) of this schema's pooled backends, per pid. The pool closes connections idle for 10 s, so a
 * difference is taken per backend (one gone meanwhile was idle: its share is lost, not subtracted).
 */
async function backendCpu(): Promise<Map<number, number>> {
  const pids = (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName])).rows.map((r) => r.pid);
  const out = new Map<number, number>();
  for (const pid of pids) {
    const us = processCpuUs(pid);
    if (us !== undefined) out.set(pid, us);
  }
  return out;
}

function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, us] of after) total += us - (before.get(pid) ?? 0);
  return total;
}

const episode = (i: number, member: string) => ({
  resourceType: 'EpisodeOfCare',
  id: `rec-${member}-${i % 50}`,
  status: i % 2 ? 'active' : 'finished',
  patient: { reference: `Patient/${member}` },
  managingOrganization: { reference: 'Organization/rec-org' },
  period: { start: '2025-01-01' },
});

const totals = { none: { statements: 0, trips: 0, node: 0, pg: 0, wall: 0, n: 0 }, ten: { statements: 0, trips: 0, node: 0, pg: 0, wall: 0, n: 0 } };
let seq = 0;
async function run(kind: 'none' | 'ten', count: number, record: boolean): Promise<void> {
  const member = kind === 'ten' ? 'rec-a' : 'rec-b';
  counter.reset();
  const pg0 = await backendCpu();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    counter.counting = true;
    const status = await put(`EpisodeOfCare/rec-${member}-${seq % 50}`, episode(seq++, member));
    counter.counting = false;
    if (status >= 300) throw new Error(`PUT: ${status}`);
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const pgUs = cpuSince(pg0, await backendCpu());
  if (!record) return;
  const t = totals[kind];
  t.statements += counter.statements;
  t.trips += counter.trips;
  t.node += cpu.user + cpu.system;
  t.pg += pgUs;
  t.wall += wall * 1000;
  t.n += count;
}

try {
  for (const id of ['rec-a', 'rec-b']) await put(`Patient/${id}`, { resourceType: 'Patient', id });
  await put('Organization/rec-org', { resourceType: 'Organization', id: 'rec-org', name: 'Rec' });
  for (let i = 0; i < 10; i++) {
    const status = await put(`Subscription/rec-s${i}`, {
      resourceType: 'Subscription',
      id: `rec-s${i}`,
      meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription'] },
      status: 'requested',
      reason: 'bench',
      criteria: 'http://bench.local/fhir/SubscriptionTopic/enrolment',
      _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: 'EpisodeOfCare?patient=Patient/rec-a' }] },
      channel: {
        type: 'rest-hook',
        endpoint: 'http://127.0.0.1:9/hook',
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'id-only' }] },
      },
    });
    if (status >= 300) throw new Error(`Subscription: ${status}`);
  }
  // Warm: statements prepared on every pooled connection, the candidate list held.
  await run('ten', 100, false);
  await run('none', 100, false);
  const events0 = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM subscription_event')).rows[0]!.n);
  for (let r = 0; r < rounds; r++) {
    await run(r % 2 ? 'none' : 'ten', n, true);
    await run(r % 2 ? 'ten' : 'none', n, true);
  }
  const events = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM subscription_event')).rows[0]!.n) - events0;
  if (events !== totals.ten.n) throw new Error(`expected ${totals.ten.n} event rows, found ${events}`);
  const per = (t: (typeof totals)['ten']) => ({ statements: t.statements / t.n, trips: t.trips / t.n, node: t.node / t.n, pg: t.pg / t.n, wall: t.wall / t.n });
  const none = per(totals.none);
  const ten = per(totals.ten);
  const fmt = (x: ReturnType<typeof per>) => `${x.statements.toFixed(2)} statements, ${x.trips.toFixed(2)} round trips, Node ${x.node.toFixed(0)} µs, PostgreSQL ${x.pg.toFixed(0)} µs, wall ${x.wall.toFixed(0)} µs per write`;
  console.log(`none: ${fmt(none)}`);
  console.log(`ten:  ${fmt(ten)}`);
  console.log(`ten minus none: ${(ten.statements - none.statements).toFixed(2)} statements, ${(ten.trips - none.trips).toFixed(2)} round trips, Node ${(ten.node - none.node).toFixed(0)} µs, PostgreSQL ${(ten.pg - none.pg).toFixed(0)} µs, wall ${(ten.wall - none.wall).toFixed(0)} µs (${totals.ten.n} writes each, load ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')})`);
} finally {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await server.close();
}

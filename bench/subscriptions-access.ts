// The send-time access check of a notification Bundle (notification.ts -> repository.canSee) against a
// real PostgreSQL repository: wall time and this process's CPU per Bundle of E events over M members,
// for a Subscription of an organization. With --instances 2 a second server shares the schema, so the
// repository is not alone and every cached access decision first waits for a sync with the change
// listener (docs/adr/0016): what a deployment of several instances pays per check.
//
//   DATABASE_URL=postgres://... npx tsx bench/subscriptions-access.ts [--instances 2] [--events 14] [--members 5] [--bundles 300] [--rounds 3]
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { openPostgres } from '../src/storage/postgres.js';
import { notificationBundle, type NotificationContext } from '../src/subscriptions/notification.js';
import type { DeliveryState, StoredNotification } from '../src/subscriptions/store.js';
import { flags } from './args.js';

const args = flags(process.argv.slice(2));
const instances = args.num('instances', 2, 1, true);
const eventsPerBundle = args.num('events', 14, 1, true);
const members = args.num('members', 5, 1, true);
const bundles = args.num('bundles', 300, 1, true);
const rounds = args.num('rounds', 3, 1, true);
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');

const schema = `bench_access_${randomBytes(4).toString('hex')}`;
const settings = { HOST: '127.0.0.1', CONCORD_AUTH: 'off', RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl, SUBSCRIPTION_DISPATCH: 'off' };
const servers = [];
for (let i = 0; i < instances; i++) {
  const db = await openPostgres({ connectionString: databaseUrl, schema, max: 10 });
  servers.push(await createServer(loadConfig(settings), false, db));
}
const { repository } = servers[0]!;
// Peers announce themselves every 100 ms: let each hear the other before measuring.
await new Promise((r) => setTimeout(r, 1500));

const state: DeliveryState = {
  id: 'ba0',
  status: 'active',
  topic: 'enrolment',
  criteriaType: 'EpisodeOfCare',
  criteria: '',
  channelType: 'rest-hook',
  payload: 'id-only',
  headers: [],
  organization: 'bench-org',
  maxCount: 20,
  eventsCount: 100,
  generation: 1,
  deliveredThrough: 0,
  handshakeDone: true,
  attempts: 0,
};
const events: StoredNotification[] = Array.from({ length: eventsPerBundle }, (_, i) => ({
  eventNumber: i + 1,
  occurredAt: new Date(1_700_000_000_000 + i).toISOString(),
  topic: 'enrolment',
  focusType: 'EpisodeOfCare',
  focusId: `bep${i}`,
  focusVersion: 2,
  member: `bm${i % members}`,
}));
let checks = 0;
const ctx: NotificationContext = {
  base: 'http://bench.local/fhir',
  loadFocus: () => Promise.resolve(undefined),
  // As server.ts does for a Subscription of an organization.
  mayDisclose: (organization, member) => {
    checks++;
    return organization && member ? repository.canSee({ organization, now: Date.now() }, [member]) : Promise.resolve(true);
  },
};

console.log(`${instances} instance(s) on one schema; ${eventsPerBundle} events over ${members} members per Bundle`);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < 30; i++) await notificationBundle(state, 'event-notification', events, ctx);
  checks = 0;
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < bundles; i++) await notificationBundle(state, 'event-notification', events, ctx);
  const wall = (performance.now() - t) / bundles;
  const used = process.cpuUsage(cpu);
  console.log(
    `round ${r + 1}: ${(checks / bundles).toFixed(1)} access checks per Bundle, ${wall.toFixed(2)} ms wall, ${((used.user + used.system) / 1000 / bundles).toFixed(3)} ms CPU (this process, both servers) per Bundle (load ${os.loadavg()[0]!.toFixed(1)})`,
  );
}
for (const s of servers) await s.close();
const drop = await openPostgres({ connectionString: databaseUrl, schema });
await drop.query(`DROP SCHEMA ${schema} CASCADE`);
await drop.close();
process.exit(0);

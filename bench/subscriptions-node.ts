// The Node (Concord process) CPU of the subscription path, per part, without PostgreSQL (issue 11):
//  - recording: EventRecorder.beforeCommit for one EpisodeOfCare update matched by N topic Subscriptions
//    (the store's append is a stub here), and apart the storage layer's grouping of those N notifications
//    into event rows (eventRows, run by the real append before its one statement);
//  - per POST of E events: the notification Bundle, JSON.stringify, the Standard Webhooks headers, and
//    the POST itself (outbound guard check + kept-alive connector) to a receiver in a child process, so
//    the receiver's CPU is not counted.
// Each part runs alone in a loop and reports this process's CPU (user + system) per operation.
//
//   npx tsx bench/subscriptions-node.ts [--subs 10] [--events 14] [--n 20000] [--posts 4000] [--rounds 3]
import { spawn } from 'node:child_process';
import os from 'node:os';
import type { EpisodeOfCare } from '@medplum/fhirtypes';
import { OutboundGuard } from '../src/net/outbound-guard.js';
import { keepAlivePostConnector, WebhookPoster } from '../src/net/webhook-post.js';
import type { WriteTx } from '../src/fhir/repository.js';
import { WriteSession } from '../src/fhir/resource-service.js';
import { eventRows } from '../src/storage/subscription-store.js';
import { EventRecorder } from '../src/subscriptions/event-recorder.js';
import { notificationBundle, type NotificationContext } from '../src/subscriptions/notification.js';
import { webhookHeaders } from '../src/subscriptions/signing.js';
import type { Candidate, DeliveryState, NotificationInput, StoredNotification, SubscriptionEventStore } from '../src/subscriptions/store.js';
import { flags } from './args.js';

const args = flags(process.argv.slice(2));
const subs = args.num('subs', 10, 1, true);
const eventsPerPost = args.num('events', 14, 1, true);
const n = args.num('n', 20000, 1, true);
const posts = args.num('posts', 4000, 1, true);
const rounds = args.num('rounds', 3, 1, true);

const cpuPer = async (count: number, fn: (i: number) => unknown): Promise<number> => {
  for (let i = 0; i < Math.min(count, 500); i++) await fn(i); // warm-up
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) await fn(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count; // µs
};

// --- recording ---
const candidates: Candidate[] = Array.from({ length: subs }, (_, i) => ({ id: `bs${i}`, topic: 'enrolment', criteriaType: 'EpisodeOfCare', criteria: '', filters: [] }));
let appended = 0;
let lastAppend: NotificationInput[] = [];
const store = {
  candidates: () => Promise.resolve(candidates),
  append: (_tx: WriteTx, rows: NotificationInput[]) => {
    appended += rows.length;
    lastAppend = rows;
    return Promise.resolve();
  },
} as unknown as SubscriptionEventStore;
const recorder = new EventRecorder({ store, checkEndpoint: () => Promise.resolve(), bases: ['http://bench.local/fhir'], read: () => Promise.resolve(undefined) });
const episode = (i: number): EpisodeOfCare => ({
  resourceType: 'EpisodeOfCare',
  id: `bep${i % 200}`,
  status: 'active',
  patient: { reference: `Patient/bm${i % 20}` },
  managingOrganization: { reference: 'Organization/bench-org' },
  period: { start: '2025-01-01' },
});
const tx = {} as WriteTx;
const session = (i: number): WriteSession => {
  const s = new WriteSession(tx);
  s.writes.push({ operation: 'update', resourceType: 'EpisodeOfCare', id: `bep${i % 200}`, resource: episode(i), previous: episode(i) });
  s.written.push({ version: { resourceType: 'EpisodeOfCare', id: `bep${i % 200}`, versionId: i + 2 } as WriteSession['written'][number]['version'], method: 'PUT' });
  return s;
};

// --- per POST ---
const state: DeliveryState = {
  id: 'bs0',
  status: 'active',
  topic: 'enrolment',
  criteriaType: 'EpisodeOfCare',
  criteria: '',
  channelType: 'rest-hook',
  payload: 'id-only',
  headers: [],
  secret: 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64'),
  maxCount: 20,
  eventsCount: 100,
  generation: 1,
  deliveredThrough: 0,
  handshakeDone: true,
  attempts: 0,
};
const events: StoredNotification[] = Array.from({ length: eventsPerPost }, (_, i) => ({
  eventNumber: i + 1,
  occurredAt: new Date(1_700_000_000_000 + i).toISOString(),
  topic: 'enrolment',
  focusType: 'EpisodeOfCare',
  focusId: `bep${i}`,
  focusVersion: 7 + i,
  member: `bm${i % 20}`,
}));
const ctx: NotificationContext = {
  base: 'http://bench.local/fhir',
  loadFocus: () => Promise.resolve(undefined),
  mayDisclose: () => Promise.resolve(true),
};
const bundle = await notificationBundle(state, 'event-notification', events, ctx);
const body = JSON.stringify(bundle);
const now = new Date();

const receiver = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => q.resume().on('end', () => s.writeHead(200).end())).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve) => receiver.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
const endpoint = `http://127.0.0.1:${port}/hook`;
const connector = keepAlivePostConnector();
const poster = new WebhookPoster(new OutboundGuard({ allowedHosts: [`127.0.0.1:${port}`] }), connector);
const post = () => poster.post(endpoint, { 'content-type': 'application/fhir+json', ...webhookHeaders(state.secret, 'x', body, now) }, body, 5000);

console.log(`${subs} Subscriptions matching each write; ${eventsPerPost} events per POST (${body.length} bytes), id-only`);
for (let r = 0; r < rounds; r++) {
  const rec = await cpuPer(n, (i) => recorder.beforeCommit(session(i)));
  const rows = await cpuPer(n, () => eventRows(lastAppend));
  const bun = await cpuPer(n, () => notificationBundle(state, 'event-notification', events, ctx, now));
  const str = await cpuPer(n, () => JSON.stringify(bundle));
  const sig = await cpuPer(n, () => webhookHeaders(state.secret, 'bs0-1-14', body, now));
  const snd = await cpuPer(posts, post);
  const all = await cpuPer(posts, async () => {
    const b = JSON.stringify(await notificationBundle(state, 'event-notification', events, ctx, now));
    await poster.post(endpoint, { 'content-type': 'application/fhir+json', ...webhookHeaders(state.secret, 'bs0-1-14', b, now) }, b, 5000);
  });
  console.log(
    `round ${r + 1}: record ${rec.toFixed(1)} µs/write (+ eventRows ${rows.toFixed(1)}); per POST: bundle ${bun.toFixed(1)}, stringify ${str.toFixed(1)}, sign ${sig.toFixed(1)}, guard+POST ${snd.toFixed(1)}, all ${all.toFixed(1)} µs (load ${os.loadavg()[0]!.toFixed(1)})`,
  );
}
if (appended === 0) throw new Error('the recorder recorded nothing');
connector.close();
receiver.kill();

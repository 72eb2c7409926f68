// `npm run postman`: starts a fresh Concord the way the README does (the built dist/src/main.js on the
// embedded store, in a temporary data dir, HOST 127.0.0.1, a free port), registers the collection's
// clients with random secrets through CONCORD_BOOTSTRAP_CLIENTS, waits for /readyz, runs the collection
// with newman, stops the server and exits 1 when any assertion failed (2 when the server did not start).
// Folder 6's Subscriptions post to a webhook receiver this script runs on 127.0.0.1 (allow-listed for the
// server through SUBSCRIPTION_ALLOWED_HOSTS, its URL given to the collection as {{webhookUrl}}); the run
// also fails when that receiver got no handshake or no event notification, or any delivery that was not
// signed with the collection's secret (Standard Webhooks) or lacked the engine's routing header.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTORS, buildLocalClients } from './collection.js';
import { POSTMAN_DIR } from './build.js';
import { DEMO_SECRET, ENGINE_ROUTE } from './folders/subscriptions.js';

interface NewmanSummary {
  run: { failures: { source?: { name?: string }; error: { name: string; message: string; test?: string } }[]; stats: { assertions: { total: number; failed: number }; requests: { total: number } } };
}
type NewmanRun = (options: Record<string, unknown>, callback: (err: Error | null, summary: NewmanSummary) => void) => void;
const newman = createRequire(import.meta.url)('newman') as { run: NewmanRun };

const ROOT = join(POSTMAN_DIR, '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitReady(url: string, exited: () => boolean, timeoutMs = 120_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !exited()) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** One delivery as the receiver saw it. */
interface Delivery {
  /** The SubscriptionStatus `type` (handshake, event-notification, ...). */
  type: string;
  /** A Standard Webhooks v1 signature made with the collection's secret. */
  signed: boolean;
  /** The Subscription's own `channel.header` arrived. */
  routed: boolean;
}

interface Receiver {
  url: string;
  received: Delivery[];
  server: Server;
}

/** Checks `webhook-signature` against DEMO_SECRET independently of the server's signing code. */
function validSignature(headers: Record<string, string | string[] | undefined>, body: Buffer): boolean {
  const [id, timestamp, signatures] = ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => headers[h]);
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  const key = Buffer.from(DEMO_SECRET.slice('whsec_'.length), 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64'));
  return signatures.split(' ').some((s) => {
    const given = Buffer.from(s.replace(/^v1,/, ''));
    return s.startsWith('v1,') && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** A webhook receiver that acknowledges everything (200) and records what each delivery carried. */
async function startReceiver(): Promise<Receiver> {
  const received: Delivery[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let type = 'unreadable';
      try {
        const bundle = JSON.parse(body.toString('utf8')) as { entry?: { resource?: { parameter?: { name: string; valueCode?: string }[] } }[] };
        type = bundle.entry?.[0]?.resource?.parameter?.find((p) => p.name === 'type')?.valueCode ?? 'unknown';
      } catch {
        // recorded as unreadable
      }
      received.push({ type, signed: validSignature(req.headers, body), routed: req.headers['x-engine-route'] === ENGINE_ROUTE });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the webhook receiver has no port');
  return { url: `http://127.0.0.1:${address.port}/concord-webhook`, received, server };
}

/** Deliveries are asynchronous: give the last event notification a moment to arrive. */
async function waitForEvents(receiver: Receiver, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !receiver.received.some((d) => d.type === 'event-notification')) await new Promise((r) => setTimeout(r, 200));
}

async function main(): Promise<number> {
  if (!existsSync(MAIN)) {
    console.error('dist/src/main.js is missing: run `npm run build` first (npm run postman does)');
    return 2;
  }
  const dir = await mkdtemp(join(tmpdir(), 'concord-postman-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const secrets = new Map(ACTORS.map(({ clientId }) => [clientId, randomBytes(24).toString('base64url')]));
  const clientsFile = join(dir, 'clients.json');
  await writeFile(clientsFile, JSON.stringify(buildLocalClients((id) => secrets.get(id)!)), { mode: 0o600 });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const receiver = await startReceiver();

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    CONCORD_DATA_DIR: dataDir,
    CONCORD_BOOTSTRAP_CLIENTS: clientsFile,
    SUBSCRIPTION_ALLOWED_HOSTS: new URL(receiver.url).host,
    LOG_LEVEL: 'warn',
  };
  for (const name of ['DATABASE_URL', 'BASE_URL', 'CONCORD_AUTH', 'CONCORD_RULES', 'CONCORD_CLIENT_SECRETS', 'SUBSCRIPTION_DISPATCH']) delete env[name];
  const log = createWriteStream(logFile);
  const server = spawn(process.execPath, [MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  let exited = false;
  const exit = new Promise<void>((resolve) => server.once('exit', () => ((exited = true), resolve())));

  let code = 0;
  try {
    console.log(`postman: starting Concord on ${origin} (embedded store in a temporary directory)`);
    if (!(await waitReady(`${origin}/readyz`, () => exited))) {
      console.error(`postman: the server did not become ready; its log:\n${await readFile(logFile, 'utf8').catch(() => '')}`);
      return 2;
    }
    const summary = await new Promise<NewmanSummary>((resolve, reject) =>
      newman.run(
        {
          collection: join(POSTMAN_DIR, 'Concord.postman_collection.json'),
          environment: join(POSTMAN_DIR, 'Concord.postman_environment.json'),
          envVar: [
            { key: 'baseUrl', value: `${origin}/fhir` },
            { key: 'webhookUrl', value: receiver.url },
            ...ACTORS.map(({ actor, clientId }) => ({ key: `${actor.key}ClientSecret`, value: secrets.get(clientId)! })),
          ],
          globalVar: [],
          reporters: ['cli'],
          reporter: { cli: { noSummary: false, noBanner: true } },
          timeoutRequest: 30_000,
        },
        (err, s) => (err ? reject(err) : resolve(s)),
      ),
    );
    const { failures, stats } = summary.run;
    if (failures.length > 0) {
      console.error(`\npostman: ${failures.length} failure(s) in ${stats.requests.total} requests:`);
      for (const f of failures) console.error(`  - ${f.source?.name ?? '?'}: ${f.error.test ? `${f.error.test}: ` : ''}${f.error.message}`);
      code = 1;
    } else {
      console.log(`postman: ${stats.requests.total} requests, ${stats.assertions.total} assertions, all passed`);
    }
    await waitForEvents(receiver);
    const counts = receiver.received.reduce<Record<string, number>>((acc, d) => ({ ...acc, [d.type]: (acc[d.type] ?? 0) + 1 }), {});
    console.log(`postman: the webhook receiver got ${receiver.received.length} notification(s): ${JSON.stringify(counts)}`);
    const unsigned = receiver.received.filter((d) => !d.signed).length;
    const unrouted = receiver.received.filter((d) => !d.routed).length;
    if (!counts.handshake || !counts['event-notification'] || unsigned > 0 || unrouted > 0) {
      console.error(`postman: the webhook receiver expected a handshake and an event notification, all signed with the collection's secret and carrying its header (${unsigned} unsigned, ${unrouted} without the header)`);
      code = 1;
    }
  } catch (err) {
    console.error('postman: newman could not run:', err);
    code = 1;
  } finally {
    if (!exited) server.kill('SIGTERM');
    await exit;
    await new Promise((resolve) => receiver.server.close(resolve));
    if (code === 0) await rm(dir, { recursive: true, force: true });
    else {
      const serverLog = (await readFile(logFile, 'utf8').catch(() => '')).trim();
      if (serverLog) console.error(`postman: the server's warnings and errors:\n${serverLog}`);
      console.error(`postman: server log and data kept in ${dir}`);
    }
  }
  return code;
}

process.exit(await main());

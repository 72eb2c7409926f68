// kill -9 between commit and delivery: the real server process (src/main.ts) commits writes while its
// delivery hangs at a slow receiver, is killed with SIGKILL, and a new process on the same database
// delivers every committed event afterwards, in order, the in-flight one with its original webhook id.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresUrl } from '../support/db.js';
import { eventNumbers, eventually, notificationType, Receiver } from './receiver.js';
import { subscription } from './support.js';

const receiver = new Receiver();
const children: ChildProcess[] = [];
let database: string | undefined;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: postgresUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function startConcord(env: NodeJS.ProcessEnv): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let output = '';
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no startup line: ${output}`)), 90_000);
    proc.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const line = output.split('\n').find((l) => l.includes('Concord FHIR server listening'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    proc.on('exit', (code) => reject(new Error(`exited early (${String(code)}): ${output}`)));
  });
  return { url, proc };
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await receiver.stop().catch(() => undefined);
  if (database) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
});

describe.skipIf(!postgresUrl())('kill -9 between commit and delivery', () => {
  it('a restarted process delivers every committed event, in order, with the same webhook ids', async () => {
    await receiver.start();
    database = `concord_crash_${randomBytes(4).toString('hex')}`;
    await admin((c) => c.query(`CREATE DATABASE ${database}`));
    const dbUrl = new URL(postgresUrl()!);
    dbUrl.pathname = `/${database}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: dbUrl.toString(),
      PORT: '0',
      HOST: '127.0.0.1',
      CONCORD_AUTH: 'off',
      LOG_LEVEL: 'info',
      SUBSCRIPTION_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
      SUBSCRIPTION_TIMEOUT_MS: '1000',
      SUBSCRIPTION_POLL_MS: '100',
      SUBSCRIPTION_RETRY_BASE_MS: '50',
    };
    delete env.BASE_URL;
    const api = (base: string, method: string, path: string, body?: unknown): Promise<Response> =>
      fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/fhir+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });

    const first = await startConcord(env);
    const created = await api(first.url, 'PUT', '/Subscription/crash', subscription({ id: 'crash', criteria: 'Patient', endpoint: receiver.url }));
    expect(created.status, await created.text()).toBe(201);
    await eventually(() => receiver.of('crash').some((d) => notificationType(d) === 'handshake' && d.answered === 200), 'handshake');
    await eventually(async () => ((await (await api(first.url, 'GET', '/Subscription/crash')).json()) as { status: string }).status === 'active', 'active');

    // The receiver now holds every delivery open: the process dies with event 1 in flight.
    receiver.mode = { slowMs: 600_000 };
    for (let i = 0; i < 3; i++) {
      const res = await api(first.url, 'PUT', `/Patient/crash-${i}`, { resourceType: 'Patient', id: `crash-${i}` });
      expect(res.status).toBe(201); // committed
    }
    await eventually(() => receiver.of('crash').some((d) => notificationType(d) === 'event-notification'), 'event 1 in flight');
    const inFlight = receiver.of('crash').find((d) => notificationType(d) === 'event-notification')!;
    expect(eventNumbers(inFlight.bundle)).toEqual([1]);
    const killed = new Promise((resolve) => first.proc.on('exit', resolve));
    first.proc.kill('SIGKILL');
    await killed;

    receiver.mode = 'ok';
    const second = await startConcord(env);
    await eventually(() => receiver.acknowledgedNumbers('crash').length >= 3, 'delivered after restart', 120_000);
    expect(receiver.acknowledgedNumbers('crash')).toEqual([1, 2, 3]);
    const redelivered = receiver.of('crash').find((d) => d.answered === 200 && eventNumbers(d.bundle)[0] === 1)!;
    expect(redelivered.headers['webhook-id']).toBe(inFlight.headers['webhook-id']);
    second.proc.kill('SIGTERM');
  }, 300_000);
});

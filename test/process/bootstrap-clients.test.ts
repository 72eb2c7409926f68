// CONCORD_BOOTSTRAP_CLIENTS on the real process: the listed clients can get tokens as soon as the server
// listens (no local development client then), and a file with plain secrets stops a server that listens
// beyond loopback before it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

let dir: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'concord-bootstrap-process-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const SECRET = 'process-test-secret-0123456789';

async function clientsFile(): Promise<string> {
  const file = join(dir, 'clients.json');
  await writeFile(file, JSON.stringify({ clients: [{ id: 'plan-app', organization: 'Organization/plan', scopes: 'system/*.cruds', secret: SECRET }] }));
  return file;
}

function start(env: Record<string, string>): { proc: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const full: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env };
  delete full.DATABASE_URL;
  delete full.BASE_URL;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => output, exit };
}

it('registers the listed clients before listening; no local development client is added', async () => {
  const server = start({ HOST: '127.0.0.1', CONCORD_DATA_DIR: join(dir, 'data-ok'), CONCORD_BOOTSTRAP_CLIENTS: await clientsFile() });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = server.output().split('\n').find((l) => l.includes('Concord FHIR server listening'));
      if (line) {
        clearInterval(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    }, 100);
    void server.exit.then((code) => {
      clearInterval(timer);
      reject(new Error(`exited (${String(code)}): ${server.output()}`));
    });
  });
  expect(server.output()).toContain('clients from CONCORD_BOOTSTRAP_CLIENTS registered');
  expect(server.output()).not.toContain('local development client');
  expect(server.output()).not.toContain(SECRET);
  const token = await fetch(url.replace(/\/fhir$/, '/auth/token'), {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`plan-app:${SECRET}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=system%2F*.cruds',
  });
  expect(token.status).toBe(200);
  const { access_token } = (await token.json()) as { access_token: string };
  expect((await fetch(`${url}/Organization?_count=1`, { headers: { Authorization: `Bearer ${access_token}` } })).status).toBe(200);
  server.proc.kill('SIGTERM');
  expect(await server.exit).toBe(0);
}, 180_000);

it('stops with one line when a file with plain secrets is given to a server listening beyond loopback', async () => {
  const server = start({ HOST: '0.0.0.0', CONCORD_DATA_DIR: join(dir, 'data-refused'), CONCORD_BOOTSTRAP_CLIENTS: await clientsFile() });
  expect(await server.exit).toBe(1);
  expect(server.output()).toContain('plain secrets (plan-app) are accepted only when HOST is a loopback address');
  expect(server.output()).not.toContain('Concord FHIR server listening');
});

it('refuses CONCORD_BOOTSTRAP_CLIENTS with CONCORD_AUTH=off at configuration time', async () => {
  const server = start({ HOST: '127.0.0.1', CONCORD_AUTH: 'off', CONCORD_DATA_DIR: join(dir, 'data-off'), CONCORD_BOOTSTRAP_CLIENTS: await clientsFile() });
  expect(await server.exit).toBe(1);
  expect(server.output()).toContain('invalid configuration: CONCORD_BOOTSTRAP_CLIENTS');
});

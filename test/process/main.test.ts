// The real process: `src/main.ts` starts on embedded PGlite with nothing configured but a data dir,
// logs its URL and store, registers a local development client and prints the commands that use it,
// serves requests, and exits cleanly on SIGTERM.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

let dataDir: string | undefined;

/** Waits for the process to print what `find` looks for. */
async function until<T>(find: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error('not printed in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
let child: ChildProcess | undefined;
afterAll(async () => {
  // A failed assertion must not leave the server running.
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('starts on embedded PGlite, answers, and shuts down gracefully on SIGTERM', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'concord-main-'));
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', CONCORD_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  delete env.BASE_URL;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let output = '';
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const started = await new Promise<{ url: string; store: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no startup line: ${output}`)), 60_000);
    proc.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('Concord FHIR server listening')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as { url: string; store: string });
      }
    });
    proc.on('exit', (code) => reject(new Error(`exited early (${String(code)}): ${output}`)));
  });
  expect(started.store).toContain('embedded PGlite');
  const res = await fetch(`${started.url}/metadata`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { fhirVersion: string }).fhirVersion).toBe('4.0.1');
  // Authentication is on by default: data needs a token. A fresh embedded store on loopback registered a
  // local development client, and the two printed commands get a token and read with it.
  expect((await fetch(`${started.url}/Patient`)).status).toBe(401);
  const commands = await until(() => {
    const lines = output.split('\n').map((l) => l.trim());
    const token = lines.find((l) => l.startsWith('TOKEN=$(curl'));
    const read = lines.find((l) => l.startsWith('curl -s -H "Authorization: Bearer $TOKEN"'));
    return token && read ? [token, read] : undefined;
  });
  expect(commands[0]).toContain(`$(cat ${join(dataDir, 'local-dev-client.secret')})`);
  expect(output).toContain('registered the local development client local-dev');
  const answer = await promisify(execFile)('bash', ['-c', commands.join('\n')]);
  expect(JSON.parse(answer.stdout)).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  proc.kill('SIGTERM');
  expect(await exit).toBe(0);
  expect(output).toContain('shutting down');
}, 180_000);

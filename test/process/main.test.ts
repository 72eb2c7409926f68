// The real process: `src/main.ts` starts on embedded PGlite with nothing configured but a data dir,
// logs its URL and store, serves requests, and exits cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

let dataDir: string | undefined;
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
  // Authentication is on by default: data needs a token, and the log tells a newcomer how to get one.
  expect((await fetch(`${started.url}/Patient`)).status).toBe(401);
  expect(output).toContain('npm run clients -- add --id local-dev --admin');
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  proc.kill('SIGTERM');
  expect(await exit).toBe(0);
  expect(output).toContain('shutting down');
});

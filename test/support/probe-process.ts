// Runs the real server entry (src/main.ts, embedded in-memory store, auth off) in a child process with a
// probe script loaded by --import, and answers what the probe printed once the process exited with 0.
// The probe gets the port the server listens on, so it can wait for /healthz and then act inside the
// server's own process (allocate, measure), which no HTTP test can.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { expect } from 'vitest';

/** A port nobody listens on now (the server is given it; PORT=0 would hide it from the probe). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The probe's standard output; the child must exit with 0 (the probe ends it with process.exit(0)). */
export async function runServerWithProbe(probe: (port: number) => string, env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', CONCORD_AUTH: 'off', CONCORD_DATA_DIR: 'memory://', LOG_LEVEL: 'warn' };
  delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(probe(port))}`, 'src/main.ts'], { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, out).toBe(0);
  return out;
}

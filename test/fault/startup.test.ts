// Start-up against a database that is not there: the real process retries for DATABASE_CONNECT_TIMEOUT
// seconds, then exits non-zero with one line naming what failed and where, without a stack or the
// password. A DATABASE_URL that is no URL at all fails at once. (Only loopback is contacted.)
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

interface Exit {
  code: number | null;
  lines: { level: number; msg: string }[];
  output: string;
  ms: number;
}

function runMain(env: Record<string, string>): Promise<Exit> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env };
  delete childEnv.BASE_URL;
  const started = Date.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`still running: ${output}`));
    }, 45_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      const lines = output
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          try {
            return JSON.parse(l) as { level: number; msg: string };
          } catch {
            return { level: -1, msg: l };
          }
        });
      resolve({ code, lines, output, ms: Date.now() - started });
    });
  });
}

describe('start-up without a reachable database', () => {
  it('retries an unreachable PostgreSQL, then exits 1 with one line: what, where, no stack, no password', async () => {
    const exit = await runMain({ DATABASE_URL: 'postgres://concord:s3cret-pw@127.0.0.1:1/concorddb', DATABASE_CONNECT_TIMEOUT: '2' });
    expect(exit.code).toBe(1);
    const fatal = exit.lines.filter((l) => l.level >= 50);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toBe('cannot connect to PostgreSQL at 127.0.0.1:1/concorddb: connection refused (gave up after 2 s)');
    // It did retry (logged as warnings) for about the configured time.
    expect(exit.lines.filter((l) => l.msg === 'database not reachable yet').length).toBeGreaterThan(1);
    expect(exit.lines.every((l) => l.level !== -1)).toBe(true);
    expect(exit.output).not.toContain('s3cret-pw');
    expect(exit.output).not.toMatch(/\n\s+at /);
  });

  it('refuses a DATABASE_URL that is not a PostgreSQL URL at once, without echoing it', async () => {
    const exit = await runMain({ DATABASE_URL: 'not-a-url' });
    expect(exit.code).toBe(1);
    expect(exit.lines).toHaveLength(1);
    expect(exit.lines[0]!.msg).toMatch(/^invalid configuration: DATABASE_URL must be a PostgreSQL URL/);
    expect(exit.output).not.toContain('ENOTFOUND');
  });
});

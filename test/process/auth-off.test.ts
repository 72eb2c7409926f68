// CONCORD_AUTH=off is refused, with one clear line, unless HOST is a loopback address.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';

it('refuses to start with CONCORD_AUTH=off and a non-loopback HOST', () => {
  const env: NodeJS.ProcessEnv = { ...process.env, CONCORD_AUTH: 'off', HOST: '0.0.0.0', PORT: '0', CONCORD_DATA_DIR: 'memory://' };
  delete env.DATABASE_URL;
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, encoding: 'utf8', timeout: 60_000 });
  expect(run.status).toBe(1);
  // One structured (pino) line on stdout, like every other start-up failure; nothing on stderr.
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const line = JSON.parse(lines[0]!) as { level: number; msg: string };
  expect(line.level).toBe(60);
  expect(line.msg).toMatch(/^invalid configuration: CONCORD_AUTH=off is only allowed when HOST is a loopback address/);
  expect(run.stderr.trim()).toBe('');
});

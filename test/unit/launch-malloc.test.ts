// `npm start` and the container start the server with two glibc malloc arenas (docs/adr/0026): glibc reads
// MALLOC_ARENA_MAX only at process start, so it has to be in the launch, not in the server's code. An
// operator's own value wins over the default.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
const launch = start.slice(start.indexOf('&&') + 2).trim();

/** The start script's launch, run by sh as npm runs it, with the server swapped for a probe of its environment. */
function arenaSeenByServer(env: NodeJS.ProcessEnv): string {
  expect(launch).toMatch(/ node (--\S+ )*dist\/src\/main\.js$/);
  const probe = launch.replace(/dist\/src\/main\.js$/, `-e "process.stdout.write(process.env.MALLOC_ARENA_MAX ?? 'unset')"`);
  const childEnv = { ...process.env, ...env };
  if (env.MALLOC_ARENA_MAX === undefined) delete childEnv.MALLOC_ARENA_MAX;
  return execFileSync('sh', ['-c', probe], { env: childEnv, encoding: 'utf8' });
}

describe('malloc arenas at launch', () => {
  it('npm start gives the server MALLOC_ARENA_MAX=2 unless the operator set another value', () => {
    expect(arenaSeenByServer({})).toBe('2');
    expect(arenaSeenByServer({ MALLOC_ARENA_MAX: '4' })).toBe('4');
  });

  it('the container image sets it for the server', () => {
    expect(readFileSync('Dockerfile', 'utf8')).toMatch(/^ENV .*\bMALLOC_ARENA_MAX=2\b/m);
  });
});

// The memory benchmark starts the built server itself; it must launch it as `npm start` does, so a change
// of the start script's flags reaches the benchmark without a second copy to edit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { npmStartLaunch } from '../../../bench/npm-start-launch.js';

describe('npm start launch, as benchmarks read it', () => {
  it("this repository's start script: two malloc arenas and an 8 MB semi-space unless the environment says otherwise", () => {
    expect(npmStartLaunch('.', {})).toEqual({ env: { MALLOC_ARENA_MAX: '2' }, nodeArgs: ['--max-semi-space-size=8'] });
    expect(npmStartLaunch('.', { MALLOC_ARENA_MAX: '4', V8_SEMI_SPACE_MB: '16' })).toEqual({ env: { MALLOC_ARENA_MAX: '4' }, nodeArgs: ['--max-semi-space-size=16'] });
  });

  it('follows the start script: another flag there is launched too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'launch-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { start: 'npm run build && A=${A:-1} node --max-old-space-size=${OLD:-300} --expose-gc dist/src/main.js' } }));
      expect(npmStartLaunch(dir, {})).toEqual({ env: { A: '1' }, nodeArgs: ['--max-old-space-size=300', '--expose-gc'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

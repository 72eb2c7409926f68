import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeConformanceResources } from '../../../scripts/profiles/generate.js';
import { projectPath } from '../../../src/paths.js';

const committed = projectPath('profiles');
const out = mkdtempSync(join(tmpdir(), 'concord-profiles-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const jsonFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('profiles build', () => {
  it('regenerates byte-identical files (run `npx tsx scripts/profiles/build.ts` after editing profiles/src)', () => {
    writeConformanceResources(projectPath('profiles', 'src'), out);
    expect(jsonFiles(out)).toEqual(jsonFiles(committed));
    for (const file of jsonFiles(out)) {
      expect(readFileSync(join(out, file), 'utf8'), file).toBe(readFileSync(join(committed, file), 'utf8'));
    }
  });

  it('is deterministic across runs', () => {
    const again = mkdtempSync(join(tmpdir(), 'concord-profiles-'));
    try {
      writeConformanceResources(projectPath('profiles', 'src'), again);
      for (const file of jsonFiles(again)) expect(readFileSync(join(again, file), 'utf8')).toBe(readFileSync(join(out, file), 'utf8'));
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });
});

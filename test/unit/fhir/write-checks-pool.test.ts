// The worker path of the write checks (write-checks-pool.ts) must answer exactly what the inline path
// answers: the same issues for invalid resources, the same index rows (or the same too-costly refusal)
// for valid ones, over hand-made edge cases and a deterministic sample of the official R4 examples.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasErrors } from '../../../src/fhir/outcome.js';
import { PROFILE_URLS } from '../../../src/fhir/profiles/urls.js';
import { scanJsonValue } from '../../../src/fhir/hostile-input.js';
import { extractIndexValues } from '../../../src/fhir/search/extract.js';
import { attachIndex, indexValuesFor } from '../../../src/fhir/search/prepared-index.js';
import type { IndexRows } from '../../../src/fhir/search/types.js';
import { runWriteChecks } from '../../../src/fhir/write-checks.js';
import { WriteCheckPool } from '../../../src/fhir/write-checks-pool.js';

const EXAMPLES_DIR = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const MAX_ROWS = 10_000;

/** Every 20th example, and every 5th of those over 100 KB (the ones a worker actually gets). */
function sampleExamples(): { file: string; resource: Record<string, unknown> }[] {
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json') && f !== 'package.json').sort();
  const large = files.filter((f) => {
    const bytes = statSync(join(EXAMPLES_DIR, f)).size;
    return bytes > 100_000 && bytes < 2_000_000;
  });
  const picked = new Set([...files.filter((_, i) => i % 20 === 0), ...large.filter((_, i) => i % 5 === 0)]);
  return [...picked].map((file) => ({ file, resource: JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as Record<string, unknown> }));
}

const names = (n: number, given: number) => Array.from({ length: n }, (_, i) => ({ family: `F${i}`, given: Array.from({ length: given }, (_, g) => `G${i}.${g}`) }));

const EDGE_CASES: { name: string; resource: Record<string, unknown>; invalid?: boolean }[] = [
  { name: 'valid, 5,000 names', resource: { resourceType: 'Patient', name: names(5_000, 1) } },
  { name: 'invalid: unknown element and a bad date among 3,000 names', resource: { resourceType: 'Patient', name: names(3_000, 1), birthDate: '1990-13-01', foo: 1 }, invalid: true },
  { name: 'too many index rows (refused at the write)', resource: { resourceType: 'Patient', name: names(5_001, 2) } },
  { name: 'Concord profile claimed, not met', resource: { resourceType: 'CareTeam', meta: { profile: [PROFILE_URLS.coordinationCareTeam] }, status: 'active', note: Array.from({ length: 1_000 }, (_, i) => ({ text: `n${i}` })) }, invalid: true },
];

// Offloads everything, so small examples take the worker path too.
const pool = new WriteCheckPool({ threads: 1, maxIndexRows: MAX_ROWS, threshold: { nodes: 0, chars: 0 } });
afterAll(() => pool.close());

async function bothPaths(resource: Record<string, unknown>, index = true) {
  const type = String(resource.resourceType);
  const inline = runWriteChecks({ resource, expectedType: type, index, maxIndexRows: MAX_ROWS });
  const pending = pool.run(resource, type, scanJsonValue(resource).size, index);
  if (!pending) throw new Error('the pool did not take the task');
  return { inline, offloaded: await pending };
}

describe('write checks on a worker thread', () => {
  it.each(EDGE_CASES)('$name: same issues and index outcome as inline', async ({ resource, invalid }) => {
    const { inline, offloaded } = await bothPaths(resource);
    expect(offloaded).toEqual(inline);
    expect(hasErrors(inline.issues)).toBe(invalid === true);
  });

  it('a refusal prepared on the worker is raised where extraction would raise it, with the same outcome', async () => {
    const resource = EDGE_CASES[2]!.resource;
    const { offloaded } = await bothPaths(resource);
    expect(offloaded.index && 'refusal' in offloaded.index).toBe(true);
    const stored = { ...resource, id: 'x' };
    attachIndex(stored, offloaded.index!);
    let inlineError: unknown;
    try {
      extractIndexValues(stored, MAX_ROWS);
    } catch (err) {
      inlineError = err;
    }
    expect(() => indexValuesFor(stored, MAX_ROWS)).toThrow((inlineError as Error).message);
    expect((inlineError as { status: number }).status).toBe(422);
  });

  it('$validate (no index asked) gets the issues only', async () => {
    const { inline, offloaded } = await bothPaths(EDGE_CASES[1]!.resource, false);
    expect(offloaded).toEqual(inline);
    expect(offloaded.index).toBeUndefined();
    expect(offloaded.issues.length).toBeGreaterThan(0);
  });

  it('official R4 examples: same issues and index rows, and rows prepared before the server stamps id/meta equal those of the stored form', async () => {
    const examples = sampleExamples();
    expect(examples.length).toBeGreaterThan(250);
    const withoutRowBacked = (rows: IndexRows) =>
      Object.fromEntries(Object.entries(rows).map(([k, list]) => [k, (list as { code: string }[]).filter((r) => r.code !== '_id' && r.code !== '_lastUpdated')]));
    let valid = 0;
    for (const { file, resource } of examples) {
      const { inline, offloaded } = await bothPaths(resource);
      expect(offloaded, file).toEqual(inline);
      if (!offloaded.index || 'refusal' in offloaded.index) continue;
      valid++;
      // What the storage indexes: the stamped resource (resource-service.ts stamp()).
      const stored = { ...resource, id: 'stamped-id', meta: { ...(resource.meta as object | undefined), versionId: '7', lastUpdated: '2026-12-02T08:00:00.000Z' } };
      expect(withoutRowBacked(offloaded.index.rows), file).toEqual(withoutRowBacked(extractIndexValues(stored, MAX_ROWS)));
    }
    expect(valid).toBeGreaterThan(200);
  }, 300_000);
});

describe('the pool', () => {
  it('starts no thread for small resources, one on first large need, and none after close (later checks run inline)', async () => {
    const p = new WriteCheckPool({ threads: 1 });
    const small = { resourceType: 'Patient', name: names(3, 1) };
    expect(p.run(small, 'Patient', scanJsonValue(small).size, true)).toBeUndefined();
    expect(p.threadCount).toBe(0);
    const large = { resourceType: 'Patient', name: names(1_000, 1) };
    const pending = p.run(large, 'Patient', scanJsonValue(large).size, true);
    expect(pending).toBeDefined();
    expect(p.threadCount).toBe(1);
    expect((await pending)!.issues).toEqual([]);
    await p.close();
    expect(p.threadCount).toBe(0);
    expect(p.run(large, 'Patient', scanJsonValue(large).size, true)).toBeUndefined();
  });

  it('an idle thread exits after the idle timeout', async () => {
    const p = new WriteCheckPool({ threads: 1, idleTimeoutMs: 200, threshold: { nodes: 0, chars: 0 } });
    try {
      await p.run({ resourceType: 'Patient' }, 'Patient', { nodes: 1, chars: 0 }, false);
      expect(p.threadCount).toBe(1);
      await expect.poll(() => p.threadCount, { timeout: 20_000, interval: 100 }).toBe(0);
    } finally {
      await p.close();
    }
  });

  it('WRITE_WORKERS=0 checks everything inline', () => {
    const p = new WriteCheckPool({ threads: 0 });
    const large = { resourceType: 'Patient', name: names(5_000, 1) };
    expect(p.run(large, 'Patient', scanJsonValue(large).size, true)).toBeUndefined();
  });
});

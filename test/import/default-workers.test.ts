// The CLI's default number of prepare workers (src/import/command.ts): none on one or two cores, where
// preparing in the main thread measured faster and cheaper than a worker (bench/RESULTS.md, 2026-12-04),
// a worker per spare core above that; an explicit --workers still wins.
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { defaultWorkers, parseImportArgs } from '../../src/import/command.js';

describe('import CLI default workers', () => {
  it('prepares in the main thread on one or two cores, with cores - 1 workers above', () => {
    expect([1, 2, 3, 4, 8].map(defaultWorkers)).toEqual([0, 0, 2, 3, 7]);
  });

  it('applies the default for this machine unless --workers is given', () => {
    expect(parseImportArgs(['a.ndjson']).workers).toBe(defaultWorkers(availableParallelism()));
    expect(parseImportArgs(['--workers', '1', 'a.ndjson']).workers).toBe(1);
    expect(parseImportArgs(['--workers', '0', 'a.ndjson']).workers).toBe(0);
  });
});

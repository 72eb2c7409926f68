import { describe, expect, it } from 'vitest';
import { CommitLog } from '../../../src/fhir/commit-log.js';

describe('CommitLog (409 vs 422)', () => {
  it('a version still committing counts as committed after any arrival', () => {
    const log = new CommitLog();
    log.writing('CareTeam/a', '2026-01-01T00:00:00.000Z');
    expect(log.committedSince('CareTeam/a', '2026-01-01T00:00:00.000Z', Date.now() + 60_000)).toBe(true);
  });

  it('compares the commit instant, not lastUpdated, with the arrival', () => {
    const log = new CommitLog();
    const lastUpdated = '2026-01-01T00:00:00.000Z';
    log.writing('CareTeam/a', lastUpdated);
    log.settled(new Map([['CareTeam/a', lastUpdated]]), true, 2_000);
    expect(log.committedSince('CareTeam/a', lastUpdated, 2_000)).toBe(false);
    expect(log.committedSince('CareTeam/a', lastUpdated, 1_500)).toBe(true);
    expect(log.committedSince('CareTeam/a', lastUpdated, 2_500)).toBe(false);
  });

  it('knows nothing of other versions, rolled-back writes or evicted entries', () => {
    const log = new CommitLog(1);
    log.writing('CareTeam/a', 'v1');
    expect(log.committedSince('CareTeam/a', 'v0', 0)).toBeUndefined();
    log.settled(new Map([['CareTeam/a', 'v1']]), false);
    expect(log.committedSince('CareTeam/a', 'v1', 0)).toBeUndefined();
    log.writing('CareTeam/b', 'v1');
    log.writing('CareTeam/c', 'v1');
    expect(log.committedSince('CareTeam/b', 'v1', 0)).toBeUndefined();
    expect(log.committedSince('CareTeam/c', 'v1', 0)).toBe(true);
  });
});

// Server-assigned ids are time-ordered UUIDs (docs/adr/0029): valid FHIR ids, unique, ordered by the
// millisecond they were made in, with 74 random bits each.
import { describe, expect, it } from 'vitest';
import { isValidId, newId, timeOrderedUuid } from '../../../src/fhir/ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisOf = (id: string): number => parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('newId', () => {
  it('is a version 7 UUID and a valid FHIR id', () => {
    for (let i = 0; i < 2000; i++) {
      const id = newId();
      expect(id).toMatch(V7);
      expect(isValidId(id)).toBe(true);
    }
  });

  it('carries the millisecond it was made in, so ids of later milliseconds sort after earlier ones', () => {
    const times = [0, 1, 0xffffff, 0x1000000, Date.UTC(2026, 11, 3), Date.UTC(2026, 11, 3) + 1, 2 ** 48 - 1];
    const ids = times.map((t) => timeOrderedUuid(t));
    expect(ids.map(millisOf)).toEqual(times);
    expect([...ids].sort()).toEqual(ids);
    const before = Date.now();
    const id = newId();
    expect(millisOf(id)).toBeGreaterThanOrEqual(before);
    expect(millisOf(id)).toBeLessThanOrEqual(Date.now());
  });

  it('differs within one millisecond in its random bits (more than 256 ids, the random pool refilled)', () => {
    const ids = Array.from({ length: 5000 }, () => timeOrderedUuid(1_700_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    // Every random hex digit position takes many values: nothing constant beyond version and variant.
    const random = ids.map((id) => id.replaceAll('-', '').slice(13));
    for (let p = 0; p < 19; p++) {
      if (p === 3) continue; // the variant digit: 8, 9, a or b
      expect(new Set(random.map((r) => r[p])).size).toBe(16);
    }
  });
});

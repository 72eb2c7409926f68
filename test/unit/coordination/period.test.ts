import { describe, expect, it } from 'vitest';
import { covers, coveredByUnion, instantRange, intersect, overlaps, periodRange } from '../../../src/coordination/period.js';

describe('period semantics', () => {
  it('an end date covers its whole day', () => {
    const r = periodRange({ start: '2026-01-01', end: '2026-06-30' });
    expect(covers(r, '2026-06-30T23:59:59.999Z')).toBe(true);
    expect(covers(r, '2026-07-01T00:00:00Z')).toBe(false);
  });

  it('the 2026-06-30 / 2026-07-01 handoff does not overlap; 2026-07-01 / 2026-07-01 does', () => {
    const next = periodRange({ start: '2026-07-01' });
    expect(overlaps(periodRange({ start: '2026-01-01', end: '2026-06-30' }), next)).toBe(false);
    expect(overlaps(periodRange({ start: '2026-01-01', end: '2026-07-01' }), next)).toBe(true);
  });

  it('year and month precision cover the whole year / month', () => {
    expect(covers(periodRange({ end: '2026' }), '2026-12-31T23:59:59Z')).toBe(true);
    expect(covers(periodRange({ end: '2026-02' }), '2026-02-28T12:00:00Z')).toBe(true);
    expect(covers(periodRange({ end: '2026-02' }), '2026-03-01')).toBe(false);
    expect(covers(periodRange({ start: '2026' }), '2025-12-31T23:59:59Z')).toBe(false);
  });

  it('missing start is since forever, missing end is ongoing', () => {
    expect(covers(periodRange({ end: '2026-01-01' }), '1900-01-01')).toBe(true);
    expect(covers(periodRange({ start: '2026-01-01' }), '2999-01-01')).toBe(true);
    expect(covers(periodRange(undefined), Date.now())).toBe(true);
  });

  it('honours time zones and reads zone-less values as UTC', () => {
    const r = periodRange({ end: '2026-06-30T20:00:00-04:00' });
    expect(covers(r, '2026-07-01T00:00:00.500Z')).toBe(true);
    expect(covers(r, '2026-07-01T00:00:01Z')).toBe(false);
    expect(periodRange({ start: '2026-07-01T00:00:00' }).start).toBe(Date.UTC(2026, 6, 1));
  });

  it('a dateTime end covers its last second, a fractional one its last millisecond', () => {
    expect(covers(periodRange({ end: '2026-06-30T17:00:00Z' }), '2026-06-30T17:00:00.999Z')).toBe(true);
    expect(covers(periodRange({ end: '2026-06-30T17:00:00.250Z' }), '2026-06-30T17:00:00.251Z')).toBe(false);
  });

  it('an instant is its whole precision', () => {
    const day = instantRange('2026-07-01');
    expect(overlaps(day, periodRange({ start: '2026-07-01T23:00:00Z' }))).toBe(true);
    expect(overlaps(day, periodRange({ start: '2026-07-02' }))).toBe(false);
  });

  it('an inverted period overlaps nothing', () => {
    expect(overlaps(periodRange({ start: '2026-07-02', end: '2026-07-01' }), periodRange({}))).toBe(false);
  });

  it('intersects and covers by a union of ranges', () => {
    const a = periodRange({ start: '2026-01-01', end: '2026-06-30' });
    const b = periodRange({ start: '2026-06-01' });
    expect(intersect(a, b)).toEqual({ start: Date.UTC(2026, 5, 1), end: Date.UTC(2026, 6, 1) });
    const target = periodRange({ start: '2026-01-01' });
    expect(coveredByUnion(target, [periodRange({ start: '2020', end: '2026-06-30' }), periodRange({ start: '2026-07-01' })])).toBe(true);
    expect(coveredByUnion(target, [periodRange({ start: '2020', end: '2026-06-29' }), periodRange({ start: '2026-07-01' })])).toBe(false);
  });
});

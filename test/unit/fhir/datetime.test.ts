import { describe, expect, it } from 'vitest';
import { certainlyBefore, parseFhirDateTime, readFhirDateTime } from '../../../src/fhir/datetime.js';
import { instantRange, periodRange } from '../../../src/coordination/period.js';
import { dateRange } from '../../../src/fhir/search/values.js';

const ms = (iso: string): number => Date.parse(iso);
const range = (text: string): [number, number] | undefined => {
  const v = parseFhirDateTime(text);
  return v && [v.low, v.high];
};

describe('the shared FHIR date parser', () => {
  it('gives the range each precision covers', () => {
    expect(range('2026')).toEqual([ms('2026-01-01T00:00:00Z'), ms('2027-01-01T00:00:00Z')]);
    expect(range('2026-02')).toEqual([ms('2026-02-01T00:00:00Z'), ms('2026-03-01T00:00:00Z')]);
    expect(range('2026-12')).toEqual([ms('2026-12-01T00:00:00Z'), ms('2027-01-01T00:00:00Z')]);
    expect(range('2026-12-31')).toEqual([ms('2026-12-31T00:00:00Z'), ms('2027-01-01T00:00:00Z')]);
    expect(range('2026-06-30T10:15Z')).toEqual([ms('2026-06-30T10:15:00Z'), ms('2026-06-30T10:16:00Z')]);
    expect(range('2026-06-30T10:15:30Z')).toEqual([ms('2026-06-30T10:15:30Z'), ms('2026-06-30T10:15:31Z')]);
    expect(range('2026-06-30T10:15:30.5Z')).toEqual([ms('2026-06-30T10:15:30.500Z'), ms('2026-06-30T10:15:30.600Z')]);
    expect(range('2026-06-30T10:15:30.25Z')).toEqual([ms('2026-06-30T10:15:30.250Z'), ms('2026-06-30T10:15:30.260Z')]);
    expect(range('2026-06-30T10:15:30.123456Z')).toEqual([ms('2026-06-30T10:15:30.123Z'), ms('2026-06-30T10:15:30.124Z')]);
    expect(parseFhirDateTime('2026-06')?.precision).toBe('month');
    expect(parseFhirDateTime('2026-06-30T10:15:30.1Z')?.precision).toBe('fraction');
  });

  it('reads years 0001-0099 as themselves, not as 19xx', () => {
    expect(range('0050')).toEqual([ms('0050-01-01T00:00:00Z'), ms('0051-01-01T00:00:00Z')]);
    expect(parseFhirDateTime('0001-01-01')?.low).toBe(new Date('0001-01-01T00:00:00Z').getTime());
  });

  it('applies time zones; dates and zone-less times are read as UTC', () => {
    expect(range('2026-06-30T20:00:00-04:00')).toEqual([ms('2026-07-01T00:00:00Z'), ms('2026-07-01T00:00:01Z')]);
    expect(range('2026-07-01T05:30:00+05:30')?.[0]).toBe(ms('2026-07-01T00:00:00Z'));
    expect(range('2026-07-01T00:00:00+14:00')?.[0]).toBe(ms('2026-06-30T10:00:00Z'));
    expect(range('2026-07-01T00:00:00')?.[0]).toBe(ms('2026-07-01T00:00:00Z'));
    expect(parseFhirDateTime('2026-07-01T00:00:00Z')?.zoned).toBe(true);
    expect(parseFhirDateTime('2026-07-01T00:00:00')?.zoned).toBe(false);
    expect(parseFhirDateTime('2026-07-01')?.zoned).toBe(false);
  });

  it('knows leap years', () => {
    for (const ok of ['2024-02-29', '2000-02-29', '2400-02-29', '2024-02-29T12:00:00Z']) expect(parseFhirDateTime(ok), ok).toBeDefined();
    for (const bad of ['2026-02-29', '1900-02-29', '2100-02-29', '2024-02-30']) {
      const r = readFhirDateTime(bad);
      expect(r.ok, bad).toBe(false);
      expect(!r.ok && r.calendar, bad).toBe(true);
    }
    expect(readFhirDateTime('2026-02-29')).toMatchObject({ reason: "'2026-02-29' is not a real date: February 2026 has 28 days" });
  });

  it.each([
    ['2026-06-31', 'June 2026 has 30 days'],
    ['2026-04-31T10:00:00Z', 'April 2026 has 30 days'],
    ['2026-13', 'there is no month 13'],
    ['2026-00-10', 'there is no month 00'],
    ['2026-01-00', 'January 2026 has 31 days'],
    ['2026-01-32', 'January 2026 has 31 days'],
    ['2026-01-01T25:00:00Z', 'there is no hour 25'],
    ['2026-01-01T24:00:00Z', 'there is no hour 24'],
    ['2026-01-01T10:60:00Z', 'there is no minute 60'],
    ['2026-01-01T10:00:61Z', 'there is no second 61'],
    ['2026-01-01T10:00:00+14:30', 'time zone offsets range from -14:00 to +14:00'],
    ['2026-01-01T10:00:00-15:00', 'time zone offsets range from -14:00 to +14:00'],
    ['0000', 'there is no year 0000'],
  ])('refuses the impossible %s (%s)', (text, reason) => {
    const r = readFhirDateTime(text);
    expect(r).toEqual({ ok: false, calendar: true, reason: `'${text}' is not a real date: ${reason}` });
  });

  it('refuses what is not a date at all, without calling it a calendar problem', () => {
    for (const bad of ['', '26', '2026-1', '2026-01-1', '2026-01-01T', '2026-01-01T10', '2026/01/01', ' 2026', 'x', '2026-01-01T10:00:00+0100']) {
      expect(readFhirDateTime(bad), bad).toMatchObject({ ok: false, calendar: false });
    }
  });

  it('accepts a leap second, as R4 does', () => {
    expect(range('2016-12-31T23:59:60Z')).toEqual([ms('2017-01-01T00:00:00Z'), ms('2017-01-01T00:00:01Z')]);
  });

  it('tells when one value is certainly before another, at any precision', () => {
    const p = (t: string) => parseFhirDateTime(t)!;
    expect(certainlyBefore(p('2026-05-31'), p('2026-06'))).toBe(true);
    expect(certainlyBefore(p('2026-06-15'), p('2026-06'))).toBe(false);
    expect(certainlyBefore(p('2026-06'), p('2026-06-15'))).toBe(false);
    expect(certainlyBefore(p('2026-06-15T09:00:00Z'), p('2026-06-15T10:00:00Z'))).toBe(true);
    expect(certainlyBefore(p('2026-06-15T10:00:00Z'), p('2026-06-15T10:00:00Z'))).toBe(false);
    expect(certainlyBefore(p('2026-06-15'), p('2026-06-15T10:00:00Z'))).toBe(false);
    // A date may be in any zone next to a zoned time: 2026-06-15 in UTC-12 ends at 2026-06-16T12:00Z.
    expect(certainlyBefore(p('2026-06-15'), p('2026-06-16T11:00:00Z'))).toBe(false);
    expect(certainlyBefore(p('2026-06-15'), p('2026-06-16T12:00:00Z'))).toBe(true);
    // Two zone-less values share their zone.
    expect(certainlyBefore(p('2026-06-15'), p('2026-06-16'))).toBe(true);
  });
});

describe('one parser behind search, coordination and validation', () => {
  it('the search index and coordination periods agree on ranges and on impossible dates', () => {
    for (const text of ['2026', '2026-02', '2024-02-29', '2026-06-30T20:00:00-04:00', '2026-06-30T10:15:30.5Z']) {
      const v = parseFhirDateTime(text)!;
      expect(dateRange(text)).toEqual({ low: new Date(v.low).toISOString(), high: new Date(v.high).toISOString() });
      expect(instantRange(text)).toEqual({ start: v.low, end: v.high });
    }
    for (const bad of ['2026-02-29', '2026-06-31', '2026-13']) {
      expect(dateRange(bad), bad).toBeUndefined();
      // Coordination widens an unreadable bound to unbounded rather than to a rolled-over date (2026-03-01).
      expect(periodRange({ end: bad }).end, bad).toBe(Infinity);
    }
  });
});

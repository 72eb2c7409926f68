// FHIR period semantics as the contract states them: a date/dateTime stands for the whole range its
// precision covers (end `2026-06-30` covers that day, `2026` the year), a missing start is "since
// forever" and a missing end is "ongoing". Ranges are half-open [start, end) in epoch milliseconds so
// that a handoff ending 2026-06-30 and one starting 2026-07-01 touch without overlapping.
//
// Time zones: a date (no time) and a dateTime without a zone (which R4 forbids, but it arrives) are
// read as UTC. The choice is deterministic (the server's zone never matters) and keeps day-precision
// handoffs exact; mixing a day with a zoned dateTime compares against the UTC day.
import type { Period } from '@medplum/fhirtypes';
import { parseFhirDateTime } from '../fhir/datetime.js';

export interface Range {
  /** Inclusive, epoch ms; -Infinity = since forever. */
  readonly start: number;
  /** Exclusive, epoch ms; +Infinity = ongoing. */
  readonly end: number;
}

export const ALWAYS: Range = { start: -Infinity, end: Infinity };

interface Parsed {
  /** First instant the value stands for. */
  readonly low: number;
  /** First instant after the value's precision. */
  readonly high: number;
}

/** The shared FHIR date reader (src/fhir/datetime.ts); impossible dates such as 2026-02-30 read as undefined. */
function parse(value: string): Parsed | undefined {
  return parseFhirDateTime(value.trim());
}

/**
 * The range a Period stands for. An unreadable start or end is treated as unbounded: base validation
 * rejects such values, and here widening only ever makes a conflict more likely, never hides one.
 */
export function periodRange(period: Period | undefined): Range {
  const start = period?.start === undefined ? undefined : parse(period.start);
  const end = period?.end === undefined ? undefined : parse(period.end);
  return { start: start?.low ?? -Infinity, end: end?.high ?? Infinity };
}

/** A single date/dateTime as a range (e.g. ServiceRequest.occurrenceDateTime): its whole precision. */
export function instantRange(value: string | undefined): Range {
  if (value === undefined) return ALWAYS;
  const p = parse(value);
  return p ? { start: p.low, end: p.high } : ALWAYS;
}

export function isEmpty(r: Range): boolean {
  return !(r.start < r.end);
}

export function overlaps(a: Range, b: Range): boolean {
  return a.start < b.end && b.start < a.end && !isEmpty(a) && !isEmpty(b);
}

export function intersect(a: Range, b: Range): Range | undefined {
  const r = { start: Math.max(a.start, b.start), end: Math.min(a.end, b.end) };
  return isEmpty(r) ? undefined : r;
}

/** Whether the range includes the instant (epoch ms, Date, or a FHIR instant/dateTime's first moment). */
export function covers(range: Range, instant: number | Date | string): boolean {
  const t =
    typeof instant === 'number' ? instant : instant instanceof Date ? instant.getTime() : (parse(instant)?.low ?? NaN);
  return range.start <= t && t < range.end;
}

/** Whether the union of `ranges` includes every instant of `target`. */
export function coveredByUnion(target: Range, ranges: readonly Range[]): boolean {
  if (isEmpty(target)) return true;
  const sorted = ranges.filter((r) => !isEmpty(r)).sort((a, b) => a.start - b.start);
  let reached = target.start;
  for (const r of sorted) {
    if (r.start > reached) break;
    if (r.end > reached) reached = r.end;
    if (reached >= target.end) return true;
  }
  return reached >= target.end;
}

/** Human wording of a period for a care manager: "from 2026-01-01 to 2026-06-30", "from 2026-07-01, ongoing". */
export function describePeriod(period: Period | undefined): string {
  const start = period?.start;
  const end = period?.end;
  if (start && end) return `from ${start} to ${end}`;
  if (start) return `from ${start}, ongoing`;
  if (end) return `until ${end}`;
  return 'with no start or end date';
}

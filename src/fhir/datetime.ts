// The one reader of FHIR date, dateTime and instant values, shared by write validation (impossible dates,
// per-1), the search index and search requests, and the coordination rules' periods, so all three agree on
// what a value means.
//
// A value stands for the whole range its precision covers: `2026` is the year, `2026-06-30` the day,
// `...T10:00:00Z` the second, `.5` a tenth of a second. Ranges are half-open [low, high) in epoch ms.
// Values without a zone (dates, and times R4 would require a zone on) are read as UTC, deterministically.
//
// The syntax accepted is the union of what the three callers need: R4's date/dateTime/instant forms plus
// minute precision and zone-less times (search requests use both). Whether a value has the right form for
// its element type is the structural validator's job; this module judges whether it is a real date:
// February 29 only in leap years, no June 31, no month 13, no hour 24, no zone beyond +/-14:00.
// A leap second (:60) is accepted, as R4's regex allows it; it reads as the next minute's first second.

export type DatePrecision = 'year' | 'month' | 'day' | 'minute' | 'second' | 'fraction';

export interface FhirDateValue {
  readonly precision: DatePrecision;
  /** First instant the value covers, epoch ms. */
  readonly low: number;
  /** First instant after the value, epoch ms (exclusive). */
  readonly high: number;
  /** Whether a time zone (Z or an offset) was given; dates never have one. */
  readonly zoned: boolean;
}

export type FhirDateReading =
  | { readonly ok: true; readonly value: FhirDateValue }
  /** calendar: the form is right but no such moment exists (2026-02-29, 2026-06-31, 25:00). */
  | { readonly ok: false; readonly calendar: boolean; readonly reason: string };

const FORM = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/** Epoch ms of a UTC wall time; out-of-range parts roll over (used for the exclusive upper bounds). */
function utcMs(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  if (y >= 100) return Date.UTC(y, mo - 1, d, h, mi, s, ms);
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  return date.getTime();
}

function impossible(text: string, reason: string): FhirDateReading {
  return { ok: false, calendar: true, reason: `'${text}' is not a real date: ${reason}` };
}

/** Reads a FHIR date/dateTime/instant, saying why when it is not one. */
export function readFhirDateTime(text: string): FhirDateReading {
  const m = FORM.exec(text);
  if (!m) return { ok: false, calendar: false, reason: `'${text}' is not a FHIR date, dateTime or instant` };
  const year = Number(m[1]);
  const month = m[2] === undefined ? undefined : Number(m[2]);
  const day = m[3] === undefined ? undefined : Number(m[3]);
  const hour = m[4] === undefined ? undefined : Number(m[4]);
  const minute = m[5] === undefined ? undefined : Number(m[5]);
  const second = m[6] === undefined ? undefined : Number(m[6]);
  const frac = m[7];
  const tz = m[8];
  if (year === 0) return impossible(text, 'there is no year 0000');
  if (month !== undefined && (month < 1 || month > 12)) return impossible(text, `there is no month ${m[2]}`);
  if (day !== undefined && month !== undefined) {
    const days = daysInMonth(year, month);
    if (day < 1 || day > days) return impossible(text, `${MONTHS[month - 1]} ${year} has ${days} days`);
  }
  if (hour !== undefined && hour > 23) return impossible(text, `there is no hour ${m[4]}`);
  if (minute !== undefined && minute > 59) return impossible(text, `there is no minute ${m[5]}`);
  if (second !== undefined && second > 60) return impossible(text, `there is no second ${m[6]}`);
  let offsetMin = 0;
  if (tz !== undefined && tz !== 'Z') {
    const oh = Number(tz.slice(1, 3));
    const om = Number(tz.slice(4, 6));
    if (om > 59 || oh > 14 || (oh === 14 && om > 0)) return impossible(text, `time zone offsets range from -14:00 to +14:00`);
    offsetMin = (tz.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  const shift = offsetMin * 60_000;
  const low = utcMs(year, month ?? 1, day ?? 1, hour ?? 0, minute ?? 0, second ?? 0, ms) - shift;
  let precision: DatePrecision;
  let high: number;
  if (month === undefined) {
    precision = 'year';
    high = utcMs(year + 1, 1, 1) - shift;
  } else if (day === undefined) {
    precision = 'month';
    high = utcMs(year, month + 1, 1) - shift;
  } else if (hour === undefined) {
    precision = 'day';
    high = utcMs(year, month, day + 1) - shift;
  } else if (second === undefined) {
    precision = 'minute';
    high = low + 60_000;
  } else if (frac === undefined) {
    precision = 'second';
    high = low + 1_000;
  } else {
    precision = 'fraction';
    high = low + 10 ** (3 - Math.min(3, frac.length));
  }
  return { ok: true, value: { precision, low, high, zoned: tz !== undefined } };
}

/** The value a FHIR date/dateTime/instant denotes, or undefined when it is malformed or impossible. */
export function parseFhirDateTime(text: string): FhirDateValue | undefined {
  const r = readFhirDateTime(text);
  return r.ok ? r.value : undefined;
}

// A zone-less value is a local time somewhere: UTC-12:00 to UTC+14:00 (see readFhirDateTime for why it
// is otherwise read as UTC). Only comparisons that must be certain widen it by that much.
const EARLIEST_ZONE_MS = 14 * 3_600_000;
const LATEST_ZONE_MS = 12 * 3_600_000;

/**
 * Whether every instant `a` may denote is before every instant `b` may denote (so `a` is certainly
 * earlier, whatever the precisions). When exactly one of them has no zone, that one is widened to every
 * zone it could be in; two zone-less values are taken to share a zone.
 */
export function certainlyBefore(a: FhirDateValue, b: FhirDateValue): boolean {
  const widen = a.zoned !== b.zoned;
  const aLatest = a.high + (widen && !a.zoned ? LATEST_ZONE_MS : 0);
  const bEarliest = b.low - (widen && !b.zoned ? EARLIEST_ZONE_MS : 0);
  return aLatest <= bEarliest;
}

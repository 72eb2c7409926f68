// Value semantics shared by index extraction (write time) and request parsing (query time), so a
// stored value and a searched value are always normalised the same way.

// Index columns are btree keys; PostgreSQL rejects keys over ~2.7 kB, so long values are truncated
// (matching on them then compares the first N characters only).
export const MAX_STRING = 200;
export const MAX_TOKEN = 500;
export const MAX_URI = 600;

/** Lowercased, accents stripped, whitespace collapsed: the default string match is on this form. */
export function normalizeString(s: string): string {
  return s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_STRING);
}

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function daysIn(year: number, month: number): number {
  return [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): Date {
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  return date;
}

function iso(d: Date): string {
  const y = d.getUTCFullYear();
  if (y > 9999) return 'infinity';
  if (y < 1) return '-infinity';
  return d.toISOString();
}

/**
 * The half-open instant range [low, high) a FHIR date/dateTime/instant denotes at its precision
 * ('2020' -> the whole year). Times without a zone are taken as UTC. undefined when malformed.
 */
export function dateRange(text: string): { low: string; high: string } | undefined {
  const m = DATE_RE.exec(text.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = m[2] === undefined ? undefined : Number(m[2]);
  const day = m[3] === undefined ? undefined : Number(m[3]);
  const hour = m[4] === undefined ? undefined : Number(m[4]);
  const minute = m[5] === undefined ? undefined : Number(m[5]);
  const second = m[6] === undefined ? undefined : Number(m[6]);
  const frac = m[7];
  const tz = m[8];
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (day !== undefined && (day < 1 || day > daysIn(year, month ?? 1))) return undefined;
  if (hour !== undefined && hour > 23) return undefined;
  if (minute !== undefined && minute > 59) return undefined;
  if (second !== undefined && second > 59) return undefined;
  let offsetMin = 0;
  if (tz && tz !== 'Z') {
    const oh = Number(tz.slice(1, 3));
    const om = Number(tz.slice(4, 6));
    if (oh > 14 || om > 59) return undefined;
    offsetMin = (tz.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const low = utc(year, month ?? 1, day ?? 1, hour ?? 0, minute ?? 0, second ?? 0, ms);
  const high = new Date(low.getTime());
  if (month === undefined) high.setUTCFullYear(year + 1);
  else if (day === undefined) high.setUTCMonth(month); // month is 1-based: this is the next month
  else if (hour === undefined) high.setUTCDate(day + 1);
  else if (second === undefined) high.setUTCMinutes((minute ?? 0) + 1);
  else if (!frac) high.setUTCSeconds(second + 1);
  else high.setUTCMilliseconds(ms + (frac.length >= 3 ? 1 : 10 ** (3 - frac.length)));
  const shift = offsetMin * 60_000;
  return { low: iso(new Date(low.getTime() - shift)), high: iso(new Date(high.getTime() - shift)) };
}

const NUMBER_RE = /^[+-]?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** A decimal and the implicit precision range of the digits written ('100' -> [99.5, 100.5)). */
export function parseDecimal(text: string): { value: number; low: number; high: number } | undefined {
  const m = NUMBER_RE.exec(text);
  if (!m) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) return undefined;
  const decimals = m[2]?.length ?? 0;
  const exponent = m[3] ? Number(m[3]) : 0;
  const half = 10 ** (exponent - decimals) / 2;
  return { value, low: value - half, high: value + half };
}

/** Splits `Type/id`, `Type/id/_history/v` and absolute `.../Type/id` references. */
export function parseReference(reference: string): { type?: string; id?: string; url?: string } {
  const m = /^(?:(.*)\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  if (!m) return { url: reference.slice(0, MAX_URI) };
  // An absolute reference names a resource on some server: keep its type (for :Type modifiers) and
  // url, but not a local id, so it never matches this server's Type/id. The write path already turned
  // references to this server's own base into Type/id.
  if (m[1] !== undefined) return { type: m[2], url: reference.slice(0, MAX_URI) };
  return { type: m[2], id: m[3] };
}

// Value semantics shared by index extraction (write time) and request parsing (query time), so a
// stored value and a searched value are always normalised the same way.
import { parseFhirDateTime } from '../datetime.js';

// Index columns are btree keys; PostgreSQL rejects keys over ~2.7 kB, so long values are truncated
// (matching on them then compares the first N characters only).
export const MAX_STRING = 200;
export const MAX_TOKEN = 500;
export const MAX_URI = 600;

// Printable ASCII: NFD leaves it as it is, it holds no combining mark, and its only whitespace is ' '.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Lowercased, accents stripped, whitespace collapsed: the default string match is on this form. */
export function normalizeString(s: string): string {
  // Most index values (names, addresses, codes' displays): the same result without NFD and \p{M}.
  if (PRINTABLE_ASCII.test(s)) return s.toLowerCase().replace(/ +/g, ' ').trim().slice(0, MAX_STRING);
  return s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_STRING);
}

function iso(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (y > 9999) return 'infinity';
  if (y < 1) return '-infinity';
  return d.toISOString();
}

/**
 * The half-open instant range [low, high) a FHIR date/dateTime/instant denotes at its precision
 * ('2020' -> the whole year), read by the shared parser (src/fhir/datetime.ts). undefined when
 * malformed or not a real date.
 */
export function dateRange(text: string): { low: string; high: string } | undefined {
  // The same dates recur across the resources of a load (birth dates, period starts, effective times); the
  // parse and the two ISO texts are most of a date row's cost. The answer is a function of the text alone,
  // frozen because callers share it (they copy its fields into their rows).
  // A date text is at most 35 characters; longer input (a query's) is read without being kept.
  if (text.length > 40) {
    const v = parseFhirDateTime(text.trim());
    return v ? { low: iso(v.low), high: iso(v.high) } : undefined;
  }
  let r = dateRanges.get(text);
  if (r === undefined) {
    const v = parseFhirDateTime(text.trim());
    r = v ? Object.freeze({ low: iso(v.low), high: iso(v.high) }) : null;
    if (dateRanges.size >= DATE_RANGES_KEPT) dateRanges.clear();
    dateRanges.set(text, r);
  }
  return r ?? undefined;
}

/** Recently seen date texts and their ranges (null: not a date); emptied when it reaches DATE_RANGES_KEPT. */
const dateRanges = new Map<string, Readonly<{ low: string; high: string }> | null>();
const DATE_RANGES_KEPT = 4096;

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

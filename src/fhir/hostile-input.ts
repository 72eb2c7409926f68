// Input that no FHIR value can carry but that would otherwise reach the database and fail there as a
// server error: the NUL character. PostgreSQL text and jsonb cannot hold U+0000 (SQLSTATE 22021
// "invalid byte sequence" for text parameters, 22P05 "unsupported Unicode escape sequence" for jsonb),
// and FHIR strings are not meant to contain control characters either. Other control characters are
// stored fine, so only NUL is refused here. Refusing it here, before any SQL, keeps the answer a 400
// and the store untouched.
import { FhirError, issue } from './outcome.js';

const NUL = '\u0000';

function nulError(what: string, expression?: string): FhirError {
  return new FhirError(400, issue('invalid', `${what} contains a NUL character (U+0000), which is not allowed`, expression ? { expression: [expression] } : {}));
}

/** Throws 400 when text holds a NUL character; `what` names the input in the diagnostics (never the value). */
export function assertNoNul(text: string, what: string): void {
  if (text.includes(NUL)) throw nulError(what);
}

/** Every key and value of a query (search, conditional URL, If-None-Exist). */
export function assertQueryHasNoNul(params: Iterable<[string, string]>, what: string): void {
  for (const [key, value] of params) {
    assertNoNul(key, `A parameter name in the ${what}`);
    assertNoNul(value, `The ${what} parameter ${key}`);
  }
}

/** How much a parsed JSON value holds: what the write path's CPU cost grows with (see write-checks-pool.ts). */
export interface JsonSize {
  /** Objects, arrays and primitive values. */
  nodes: number;
  /** UTF-16 units of all string values. */
  chars: number;
}

/**
 * One walk: the path of the first string (value or property name) holding a NUL, or undefined, and the
 * size of the value (counted in the same walk, so deciding where to validate costs no extra pass).
 */
export function scanJsonValue(value: unknown): { nulAt?: string; size: JsonSize } {
  const size: JsonSize = { nodes: 0, chars: 0 };
  // The path text is built only for the string refused (it used to be built for every node).
  const trail: (string | number)[] = [];
  const visit = (v: unknown): boolean => {
    size.nodes++;
    if (typeof v === 'string') {
      size.chars += v.length;
      return !v.includes(NUL);
    }
    if (typeof v !== 'object' || v === null) return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        trail.push(i);
        if (!visit(v[i])) return false;
        trail.pop();
      }
      return true;
    }
    for (const key of Object.keys(v)) {
      if (key.includes(NUL)) return false;
      trail.push(key);
      if (!visit((v as Record<string, unknown>)[key])) return false;
      trail.pop();
    }
    return true;
  };
  if (visit(value)) return { size };
  const path = trail.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
  return { nulAt: path || '(root)', size };
}

/** The path of the first string (value or property name) holding a NUL in a parsed JSON value, or undefined. */
export function findNul(value: unknown): string | undefined {
  return scanJsonValue(value).nulAt;
}

/** Throws 400 when any string in a JSON body (a resource, a patch) holds a NUL, naming where; else its size. */
export function assertJsonHasNoNul(value: unknown, what: string): JsonSize {
  const { nulAt, size } = scanJsonValue(value);
  if (nulAt !== undefined) throw nulError(`${what} at ${nulAt}`, nulAt);
  return size;
}

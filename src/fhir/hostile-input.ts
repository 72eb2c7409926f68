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

/** The path of the first string (value or property name) holding a NUL in a parsed JSON value, or undefined. */
export function findNul(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes(NUL) ? path || '(root)' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, child] of Object.entries(value)) {
    if (key.includes(NUL)) return path || '(root)';
    const found = findNul(child, path ? `${path}.${key}` : key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Throws 400 when any string in a JSON body (a resource, a patch) holds a NUL, naming where. */
export function assertJsonHasNoNul(value: unknown, what: string): void {
  const at = findNul(value);
  if (at !== undefined) throw nulError(`${what} at ${at}`, at);
}

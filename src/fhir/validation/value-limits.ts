// The cheap first pass every write gets before the structural validator, FHIRPath invariants or index
// extraction run: one linear walk that refuses primitive values outside their FHIR type's limits (R4
// datatypes.html). Strings are capped at 1 MB (R4: "strings SHALL NOT exceed 1MB in size") measured in
// UTF-8 bytes; xhtml (Narrative.div) and base64Binary (Attachment.data) are bounded only by the body limit.
// Integers are 32-bit signed; positiveInt >= 1, unsignedInt >= 0.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../outcome.js';
import type { SchemaProperty } from './schema-properties.js';

export const MAX_STRING_BYTES = 1024 * 1024;
/**
 * Items one JSON array may hold. The body limit alone allows ~350,000 small array items, and the validator's
 * FHIRPath invariants and the search index extraction cost seconds on such arrays (FHIRPath overflows
 * its stack past ~120,000). No sensible resource repeats one element 10,000 times, and any indexed element
 * that did would pass the search index bound (MAX_INDEX_ROWS, default 10,000 per parameter) anyway.
 */
export const MAX_ARRAY_ITEMS = 10_000;

/** Issues for arrays longer than MAX_ARRAY_ITEMS, anywhere in the resource (one schema-free linear walk). */
export function checkArrayLengths(resource: unknown, rootPath: string): OperationOutcomeIssue[] {
  // Recursive (nesting is bounded by MAX_JSON_DEPTH); the path text is only built for the array refused.
  const trail: (string | number)[] = [];
  let length = 0;
  const visit = (v: unknown): boolean => {
    if (Array.isArray(v)) {
      if (v.length > MAX_ARRAY_ITEMS) {
        length = v.length;
        return false;
      }
      for (let i = 0; i < v.length; i++) {
        trail.push(i);
        if (!visit(v[i])) return false;
        trail.pop();
      }
    } else if (typeof v === 'object' && v !== null) {
      for (const key of Object.keys(v)) {
        trail.push(key);
        if (!visit((v as Record<string, unknown>)[key])) return false;
        trail.pop();
      }
    }
    return true;
  };
  if (visit(resource)) return [];
  const path = rootPath + trail.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
  return [issue('too-costly', `An element may repeat at most ${MAX_ARRAY_ITEMS} times; this one has ${length}`, { expression: [path] })];
}

const UNBOUNDED_STRING_TYPES = new Set(['xhtml', 'base64Binary']);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INTEGER_MIN: Record<string, number> = { integer: INT32_MIN, positiveInt: 1, unsignedInt: 0 };

/** Byte length without encoding: a UTF-16 unit is at most 3 UTF-8 bytes, so only long strings are measured. */
function utf8TooLong(s: string): boolean {
  if (s.length * 3 <= MAX_STRING_BYTES) return false;
  return s.length > MAX_STRING_BYTES || Buffer.byteLength(s, 'utf8') > MAX_STRING_BYTES;
}

/**
 * The limits of one value of a known element. `unbounded` collects the paths of xhtml and base64Binary values
 * longer than 1 MB: @medplum/core refuses every string past 1M characters, whatever its type, so
 * validate-resource.ts drops that issue for these paths. Together with limitUnknownKey these are the only
 * hooks the limits need: validate-resource.ts runs them on every node of its one walk and the other checks
 * only until a limit is found, which relies on that.
 */
export function limitValue(issues: OperationOutcomeIssue[], unbounded: Map<string, { type: string; value: string }>, prop: SchemaProperty, value: unknown, path: string): void {
  const type = prop.typeCode;
  if (typeof value === 'string') {
    if (UNBOUNDED_STRING_TYPES.has(type)) {
      if (value.length > MAX_STRING_BYTES) unbounded.set(path, { type, value });
    } else if (utf8TooLong(value)) {
      issues.push(issue('too-long', `A FHIR ${type} may not exceed 1 MB (1,048,576 bytes of UTF-8)`, { expression: [path] }));
    }
  } else if (typeof value === 'number') {
    const min = INTEGER_MIN[type];
    if (min !== undefined && Number.isInteger(value) && (value < min || value > INT32_MAX)) {
      issues.push(issue('value', `${value} is outside the range of FHIR ${type} (${min}..${INT32_MAX})`, { expression: [path] }));
    }
  }
}

/** Unknown elements get the string cap too (the validator refuses them, but only after its own walk). */
export function limitUnknownKey(issues: OperationOutcomeIssue[], value: unknown, path: string): void {
  if (typeof value === 'string' && utf8TooLong(value)) {
    issues.push(issue('too-long', 'A string may not exceed 1 MB (1,048,576 bytes of UTF-8)', { expression: [path] }));
  }
}

const BASE64 = /^[A-Za-z\d+/]*={0,2}$/;
const XML_WHITESPACE = /[ \t\r\n]+/g;

/**
 * A base64Binary value as R4 allows it: standard base64 once XML whitespace (space, tab, CR, LF) is removed.
 * R4's own regex omits '/', an evident slip (it is one of the 64 characters). Written without nested
 * repetition, unlike @medplum/core's pattern, so megabytes never backtrack; also the format check medplum
 * skips for values past its 1M-character cap.
 */
export function isBase64(s: string): boolean {
  const compact = s.replace(XML_WHITESPACE, '');
  return compact.length % 4 === 0 && BASE64.test(compact);
}

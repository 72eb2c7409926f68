// Primitive values where medplum 4.5.2's validator and R4 disagree, in both directions:
// - it accepts dates that do not exist (2026-02-29, 2026-06-31): its regexes check digits, not calendars;
// - it refuses base64Binary with whitespace, which R4 allows (its regex for base64Binary is
//   `(\s*([0-9a-zA-Z\+\=]){4}\s*)+`, as XML Schema's base64Binary allows line breaks);
// - it applies its 1 MB string limit to xhtml, whose R4 definition has no such limit (the limit is for
//   `string`), so large narratives such as a terminology's full table are refused;
// - it reads "whitespace" as JavaScript's \s, which includes the no-break space (U+00A0) and other Unicode
//   spaces, so it refuses a code ending in U+00A0 or a string of one U+00A0. R4's regexes (code
//   `[^\s]+(\s[^\s]+)*`, string `[ \r\n\t\S]+`) are XML Schema regexes, where whitespace is only space,
//   tab, CR and LF; such values are odd but valid (HL7's own v2-0550 CodeSystem has them).
// primitiveFormatValue records what the walk sees; correctMedplumIssues then drops medplum's false positives.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { readFhirDateTime } from '../datetime.js';
import { issue } from '../outcome.js';
import type { SchemaProperty } from './schema-properties.js';
import { isBase64 } from './value-limits.js';

const DATE_TYPES = new Set(['date', 'dateTime', 'instant']);
const HAS_WHITESPACE = /[ \t\r\n]/;
// Characters JavaScript's \s matches beyond XML's four whitespace characters.
const UNICODE_SPACE = /[\v\f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;
const XML_CODE = /^[^ \t\r\n]+( [^ \t\r\n]+)*$/;
const XML_NON_WHITESPACE = /[^ \t\r\n]/;

export interface PrimitiveFacts {
  /** xhtml elements (paths as medplum writes them): its string size limit does not apply to them. */
  readonly xhtml: Set<string>;
  /** base64Binary elements that are valid once whitespace is ignored. */
  readonly spacedBase64: Set<string>;
  /** date/dateTime/instant elements this pass already reported as impossible dates. */
  readonly impossibleDates: Set<string>;
  /** Values with no-break or other non-XML spaces where medplum's JavaScript \s would misjudge them. */
  readonly xmlCodes: Set<string>;
  readonly xmlNonBlank: Set<string>;
}

export function primitiveFacts(): PrimitiveFacts {
  return { xhtml: new Set(), spacedBase64: new Set(), impossibleDates: new Set(), xmlCodes: new Set(), xmlNonBlank: new Set() };
}

/** The schema walk's value hook: records what the walk sees in `facts`, reports impossible dates. */
export function primitiveFormatValue(issues: OperationOutcomeIssue[], facts: PrimitiveFacts, prop: SchemaProperty, value: unknown, path: string): void {
  if (typeof value !== 'string') return;
  const type = prop.typeCode;
  if (UNICODE_SPACE.test(value)) {
    if (XML_NON_WHITESPACE.test(value)) facts.xmlNonBlank.add(medplumPath(path));
    if (type === 'code' && XML_CODE.test(value)) facts.xmlCodes.add(medplumPath(path));
  }
  if (type === 'xhtml') {
    facts.xhtml.add(medplumPath(path));
  } else if (type === 'base64Binary') {
    if (HAS_WHITESPACE.test(value) && isBase64(value)) facts.spacedBase64.add(medplumPath(path));
  } else if (DATE_TYPES.has(type)) {
    const r = readFhirDateTime(value);
    if (!r.ok && r.calendar) {
      issues.push(issue('structure', `Invalid ${type}: ${r.reason}`, { expression: [path] }));
      facts.impossibleDates.add(medplumPath(path));
    }
  }
}

/** Drops medplum's issues that R4 does not support, or that an issue of this pass states more precisely. */
export function correctMedplumIssues(issues: OperationOutcomeIssue[], facts: PrimitiveFacts): OperationOutcomeIssue[] {
  return issues.filter((i) => {
    const path = i.expression?.[0];
    if (path === undefined || i.code !== 'structure') return true;
    const text = i.diagnostics ?? '';
    if (text === 'String cannot be larger than 1 MB' && facts.xhtml.has(path)) return false;
    if (text === 'Invalid base64Binary format' && facts.spacedBase64.has(path)) return false;
    if (/^Invalid (date|dateTime|instant) format$/.test(text) && facts.impossibleDates.has(path)) return false;
    if (text === 'Invalid code format' && facts.xmlCodes.has(path)) return false;
    if (text === 'String must contain non-whitespace content' && facts.xmlNonBlank.has(path)) return false;
    return true;
  });
}

/** The walk writes a choice element as `value.ofType(dateTime)`; medplum writes `value[x]`. */
function medplumPath(path: string): string {
  return path.replace(/\.([A-Za-z0-9]+)\.ofType\([A-Za-z0-9]+\)/g, '.$1[x]');
}

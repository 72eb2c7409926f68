// The base validation as it was composed before one static visitor took over the schema walk's checks
// (7e88aa0: src/fhir/validation/validate-resource.ts, json-shape.ts, structure-checks.ts,
// primitive-formats.ts, period-order.ts, value-limits.ts), kept verbatim apart from names, as the reference
// that base-pass-equivalence.test.ts holds the new composition equal to.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { getDataType } from '@medplum/core';
import { isResourceType, loadDefinitions } from '../../../src/fhir/definitions.js';
import { certainlyBefore, parseFhirDateTime, readFhirDateTime } from '../../../src/fhir/datetime.js';
import { issue } from '../../../src/fhir/outcome.js';
import { findUnreferencedContained } from '../../../src/fhir/validation/contained-references.js';
import { medplumWouldAccept } from '../../../src/fhir/validation/medplum-fast-path.js';
import { medplumIssues } from '../../../src/fhir/validation/medplum-issues.js';
import { correctMedplumIssues, primitiveFacts, type PrimitiveFacts } from '../../../src/fhir/validation/primitive-formats.js';
import { requiredBindingVisitor } from '../../../src/fhir/validation/required-bindings.js';
import type { JsonObject, WalkVisitor } from '../../../src/fhir/validation/resource-walker.js';
import { isJsonObject, walkResource } from '../../../src/fhir/validation/resource-walker.js';
import type { SchemaProperty } from '../../../src/fhir/validation/schema-properties.js';
import { isPrimitiveTypeCode } from '../../../src/fhir/validation/schema-properties.js';
import { isBase64, MAX_ARRAY_ITEMS, MAX_STRING_BYTES } from '../../../src/fhir/validation/value-limits.js';
import { dropWaivedIssues } from '../../../src/fhir/validation/waivers.js';

export interface ValidateResourceOptions {
  expectedType?: string;
}
/** Error issues for `resource` against the R4 base definitions; an empty array means it is valid. */
export function referenceValidateResource(resource: unknown, options: ValidateResourceOptions = {}): OperationOutcomeIssue[] {
  loadDefinitions();
  const typeProblem = checkResourceType(resource, options.expectedType);
  if (typeProblem) return [typeProblem];
  const obj = resource as JsonObject & { resourceType: string };
  const type = obj.resourceType;

  // Oversized strings and out-of-range integers are refused before anything whose cost grows with them.
  const limits: OperationOutcomeIssue[] = checkArrayLengths(obj, type);
  if (limits.length > 0) return limits;
  // One schema walk for the value limits and the structure checks: the limits see each value first, and
  // from the first refused value on the other checks are skipped, so they never see an oversized value and
  // their issues, which a refusal discards, cost nothing more (the same answers as two walks, one less walk).
  const unbounded = new Map<string, { type: string; value: string }>();
  const walked: OperationOutcomeIssue[] = [];
  const facts = primitiveFacts();
  const checks = combine(structureVisitor(walked), requiredBindingVisitor(walked), primitiveFormatVisitor(walked, facts), periodOrderVisitor(walked));
  walkResource(obj, getDataType(type), type, limitsFirst(valueLimitsVisitor(limits, unbounded), limits, checks));
  if (limits.length > 0) return limits;

  const own: OperationOutcomeIssue[] = checkJsonShape(obj, type);
  for (const i of walked) own.push(i);
  const base = dropWaivedIssues(obj, correctMedplumIssues(medplumWouldAccept(obj) ? [] : medplumIssues(obj as unknown as Resource), facts)).filter((i) => !isUnboundedLength(i, unbounded));
  // medplum skips the format check of values past its length cap; R4 allows whitespace in base64Binary.
  for (const [path, { type: t, value }] of unbounded) {
    if (t === 'base64Binary' && !isBase64(value)) own.push(issue('value', 'Invalid base64Binary format', { expression: [path] }));
  }
  return [...dropDuplicates(base, own), ...own];
}

function checkResourceType(resource: unknown, expectedType: string | undefined): OperationOutcomeIssue | undefined {
  if (!isJsonObject(resource)) return issue('structure', 'The resource must be a JSON object');
  const rt = resource['resourceType'];
  if (rt === undefined) return issue('required', 'The resource has no resourceType');
  if (typeof rt !== 'string' || !isResourceType(rt)) {
    return issue('invalid', `Unknown resource type ${JSON.stringify(rt)}: not a concrete FHIR R4 resource type`);
  }
  if (expectedType !== undefined && rt !== expectedType) {
    return issue('invalid', `resourceType '${rt}' does not match the URL type '${expectedType}'`);
  }
  return undefined;
}

function combine(...visitors: WalkVisitor[]): WalkVisitor {
  const hooks = <K extends keyof WalkVisitor>(k: K): NonNullable<WalkVisitor[K]>[] =>
    visitors.flatMap((v) => (v[k] ? [v[k] as NonNullable<WalkVisitor[K]>] : []));
  const value = hooks('value');
  const object = hooks('object');
  const unknownKey = hooks('unknownKey');
  const primitiveExtension = hooks('primitiveExtension');
  const duplicateChoice = hooks('duplicateChoice');
  const unknownResource = hooks('unknownResource');
  return {
    value: (...a) => value.forEach((f) => f(...a)),
    object: (...a) => object.forEach((f) => f(...a)),
    unknownKey: (...a) => unknownKey.forEach((f) => f(...a)),
    primitiveExtension: (...a) => primitiveExtension.forEach((f) => f(...a)),
    duplicateChoice: (...a) => duplicateChoice.forEach((f) => f(...a)),
    unknownResource: (...a) => unknownResource.forEach((f) => f(...a)),
  };
}

/**
 * `limits` (the value-limits visitor, which has only value and unknownKey hooks) runs on every node; `checks`
 * only while `found` is empty.
 */
function limitsFirst(limits: Required<Pick<WalkVisitor, 'value' | 'unknownKey'>>, found: OperationOutcomeIssue[], checks: WalkVisitor): WalkVisitor {
  return {
    value: (prop, v, path) => {
      limits.value(prop, v, path);
      if (found.length === 0) checks.value?.(prop, v, path);
    },
    object: (...a) => {
      if (found.length === 0) checks.object?.(...a);
    },
    unknownKey: (key, v, path) => {
      limits.unknownKey(key, v, path);
      if (found.length === 0) checks.unknownKey?.(key, v, path);
    },
    primitiveExtension: (...a) => {
      if (found.length === 0) checks.primitiveExtension?.(...a);
    },
    duplicateChoice: (...a) => {
      if (found.length === 0) checks.duplicateChoice?.(...a);
    },
    unknownResource: (...a) => {
      if (found.length === 0) checks.unknownResource?.(...a);
    },
  };
}

/**
 * Medplum restates two problems our own checks report with better detail: an empty object inside an array
 * ("Invalid empty ... value"), and a nested resource of unknown type, which it reports without an expression.
 * When medplum crashed on malformed input that our checks explain, its crash message is noise.
 */
function dropDuplicates(fromMedplum: OperationOutcomeIssue[], own: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const ownPaths = new Set(own.flatMap((i) => i.expression ?? []));
  const unknownResourceReported = own.some((i) => i.diagnostics?.startsWith('Unknown resource type') || i.diagnostics?.startsWith('Nested resource'));
  return fromMedplum.filter((i) => {
    const text = i.diagnostics ?? '';
    if (text.startsWith('Invalid empty') && i.expression?.some((e) => ownPaths.has(e))) return false;
    if (text.startsWith('Unknown data type') && !i.expression && unknownResourceReported) return false;
    if (text.startsWith('Resource structure could not be validated') && own.length > 0) return false;
    return true;
  });
}

/** medplum's 1M-character cap on an xhtml or base64Binary value (R4 bounds those only by the body size). */
function isUnboundedLength(i: OperationOutcomeIssue, unbounded: Map<string, unknown>): boolean {
  const path = i.expression?.[0];
  return path !== undefined && unbounded.has(path) && (i.diagnostics ?? i.details?.text ?? '').includes('cannot be larger than 1 MB');
}
// --- json-shape.ts
function checkJsonShape(resource: Record<string, unknown>, path: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  visitObject(resource, path, true, issues);
  return issues;
}

function visitObject(obj: Record<string, unknown>, path: string, isResource: boolean, issues: OperationOutcomeIssue[]): void {
  const keys = Object.keys(obj);
  if (!isResource && (keys.length === 0 || (keys.length === 1 && keys[0] === 'id'))) {
    issues.push(issue('invariant', 'Constraint ele-1 not met: an element must have a value or children other than id', { expression: [path] }));
    return;
  }
  for (const key of keys) shapeVisitValue(obj[key], `${path}.${key}`, issues);
}

function shapeVisitValue(value: unknown, path: string, issues: OperationOutcomeIssue[]): void {
  if (value === '') {
    issues.push(issue('structure', 'Empty strings are not allowed in FHIR JSON; omit the element instead', { expression: [path] }));
  } else if (Array.isArray(value)) {
    if (value.length === 0) {
      issues.push(issue('structure', 'Empty arrays are not allowed in FHIR JSON; omit the element instead', { expression: [path] }));
    }
    for (let i = 0; i < value.length; i++) shapeVisitValue(value[i], `${path}[${i}]`, issues);
  } else if (isJsonObject(value)) {
    visitObject(value, path, typeof value['resourceType'] === 'string', issues);
  }
}
// --- value-limits.ts
function checkArrayLengths(resource: unknown, rootPath: string): OperationOutcomeIssue[] {
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
 * `unbounded` collects the paths of xhtml and base64Binary values longer than 1 MB: @medplum/core refuses every
 * string past 1M characters, whatever its type, so validate-resource.ts drops that issue for these paths.
 * Only the value and unknownKey hooks: validate-resource.ts runs this on every node of its one walk and the
 * other checks only until a limit is found, which relies on the limits needing no other hook.
 */
function valueLimitsVisitor(
  issues: OperationOutcomeIssue[],
  unbounded?: Map<string, { type: string; value: string }>,
): Required<Pick<WalkVisitor, 'value' | 'unknownKey'>> {
  return {
    value: (prop, value, path) => {
      const type = prop.typeCode;
      if (typeof value === 'string') {
        if (UNBOUNDED_STRING_TYPES.has(type)) {
          if (value.length > MAX_STRING_BYTES) unbounded?.set(path, { type, value });
        } else if (utf8TooLong(value)) {
          issues.push(issue('too-long', `A FHIR ${type} may not exceed 1 MB (1,048,576 bytes of UTF-8)`, { expression: [path] }));
        }
      } else if (typeof value === 'number') {
        const min = INTEGER_MIN[type];
        if (min !== undefined && Number.isInteger(value) && (value < min || value > INT32_MAX)) {
          issues.push(issue('value', `${value} is outside the range of FHIR ${type} (${min}..${INT32_MAX})`, { expression: [path] }));
        }
      }
    },
    // Unknown elements get the string cap too (the validator refuses them, but only after its own walk).
    unknownKey: (_key, value, path) => {
      if (typeof value === 'string' && utf8TooLong(value)) {
        issues.push(issue('too-long', 'A string may not exceed 1 MB (1,048,576 bytes of UTF-8)', { expression: [path] }));
      }
    },
  };
}

// --- structure-checks.ts
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';
const XHTML_DIV = /^\s*<div(\s[^>]*)?>/;
const XHTML_NS = /\sxmlns\s*=\s*(["'])http:\/\/www\.w3\.org\/1999\/xhtml\1/;

function structureVisitor(issues: OperationOutcomeIssue[]): WalkVisitor {
  const err = (code: OperationOutcomeIssue['code'], msg: string, path: string): void => {
    issues.push(issue(code, msg, { expression: [path] }));
  };
  return {
    value(prop, value, path) {
      if (value === null || value === undefined) return; // medplum reports nulls
      if (!isPrimitiveTypeCode(prop.typeCode)) {
        if (!isJsonObject(value)) err('structure', `Expected a JSON object for ${prop.typeCode}, found ${jsonKind(value)}`, path);
        else if (prop.typeCode === 'Reference') checkReferenceTarget(prop, value, path, err);
      } else if (prop.typeCode === 'xhtml' && typeof value === 'string') {
        if (!XHTML_DIV.test(value) || !XHTML_NS.test(value.slice(0, value.indexOf('>') + 1))) {
          err('invariant', 'Narrative must be an XHTML <div> with xmlns="http://www.w3.org/1999/xhtml"', path);
        }
      }
    },
    unknownKey(key, _value, path) {
      // Other unknown keys are reported by medplum; these slip past its `key in elements` test.
      const name = key.startsWith('_') ? key.slice(1) : key;
      if (key in Object.prototype || name in Object.prototype) err('structure', `Unknown property "${key}"`, path);
    },
    primitiveExtension(key, value, path) {
      const ok = Array.isArray(value) ? value.every((v) => v === null || isJsonObject(v)) : isJsonObject(value);
      if (!ok) err('structure', `"${key}" must be an object (or an array of objects and nulls) holding id/extension`, path);
    },
    duplicateChoice(elementPath, keys) {
      err('structure', `Only one type is allowed for ${elementPath}, found ${keys.join(', ')}`, elementPath);
    },
    unknownResource(value, path) {
      const rt = value['resourceType'];
      err('invalid', typeof rt === 'string' ? `Unknown resource type '${rt}'` : 'Nested resource has no resourceType', path);
    },
    object(obj, _schema, path, resourceType) {
      if (resourceType === undefined) return;
      const id = obj['id'];
      if (typeof id === 'string' && id !== '' && !ID.test(id)) {
        err('structure', `Invalid id '${id}': 1-64 characters from A-Z, a-z, 0-9, '-' and '.'`, `${path}.id`);
      }
      for (const { index, reason } of findUnreferencedContained(obj)) {
        err('invariant', `Constraint dom-3 not met: ${reason}`, `${path}.contained[${index}]`);
      }
    },
  };
}

function jsonKind(value: unknown): string {
  return Array.isArray(value) ? 'an array' : typeof value;
}

function checkReferenceTarget(
  prop: SchemaProperty,
  ref: JsonObject,
  path: string,
  err: (code: OperationOutcomeIssue['code'], msg: string, path: string) => void,
): void {
  const reference = ref['reference'];
  if (typeof reference !== 'string') return;
  const targetType = referencedType(reference);
  if (!targetType || !isResourceType(targetType)) return;
  const targets = prop.element.type.find((t) => t.code === 'Reference')?.targetProfile;
  if (!targets?.length) return;
  const allowed: string[] = [];
  for (const t of targets) {
    // A profile url or a non-HL7 target cannot be judged from the reference alone.
    if (!t.startsWith(HL7_SD)) return;
    const name = t.slice(HL7_SD.length);
    if (name === 'Resource' || name === targetType) return;
    if (!isResourceType(name)) return;
    allowed.push(name);
  }
  err('structure', `Reference to ${targetType} is not allowed here; expected ${allowed.join(', ')}`, path);
}

/** The resource type named by a relative, absolute or conditional reference; undefined for '#x', urn: etc. */
function referencedType(reference: string): string | undefined {
  const q = reference.indexOf('?');
  if (q > 0) return /^[A-Z][A-Za-z]+$/.test(reference.slice(0, q)) ? reference.slice(0, q) : undefined;
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(reference);
  return m?.[1];
}
// --- primitive-formats.ts
const DATE_TYPES = new Set(['date', 'dateTime', 'instant']);
const HAS_WHITESPACE = /[ \t\r\n]/;
// Characters JavaScript's \s matches beyond XML's four whitespace characters.
const UNICODE_SPACE = /[\v\f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;
const XML_CODE = /^[^ \t\r\n]+( [^ \t\r\n]+)*$/;
const XML_NON_WHITESPACE = /[^ \t\r\n]/;

function primitiveFormatVisitor(issues: OperationOutcomeIssue[], facts: PrimitiveFacts): WalkVisitor {
  return {
    value(prop, value, path) {
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
    },
  };
}

/** The walk writes a choice element as `value.ofType(dateTime)`; medplum writes `value[x]`. */
function medplumPath(path: string): string {
  return path.replace(/\.([A-Za-z0-9]+)\.ofType\([A-Za-z0-9]+\)/g, '.$1[x]');
}
// --- period-order.ts
function periodOrderVisitor(issues: OperationOutcomeIssue[]): WalkVisitor {
  return {
    value(prop, value, path) {
      if (prop.typeCode !== 'Period' || !isJsonObject(value)) return;
      const { start, end } = value;
      if (typeof start !== 'string' || typeof end !== 'string') return;
      const s = parseFhirDateTime(start);
      const e = parseFhirDateTime(end);
      if (s && e && certainlyBefore(e, s)) {
        issues.push(
          issue('invariant', `Constraint per-1 not met: If present, start SHALL have a lower value than end (end ${end} is before start ${start})`, {
            expression: [path],
          }),
        );
      }
    },
  };
}

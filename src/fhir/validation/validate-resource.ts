// The base validation every write goes through (create, update, patch result, $validate): the R4 base
// definitions only; profiles are checked separately (src/fhir/profiles) on top of this.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { getDataType } from '@medplum/core';
import { isResourceType, loadDefinitions } from '../definitions.js';
import { issue } from '../outcome.js';
import { checkJsonShape } from './json-shape.js';
import { medplumWouldAccept } from './medplum-fast-path.js';
import { medplumIssues } from './medplum-issues.js';
import { periodOrderVisitor } from './period-order.js';
import { correctMedplumIssues, primitiveFacts, primitiveFormatVisitor } from './primitive-formats.js';
import { requiredBindingVisitor } from './required-bindings.js';
import type { JsonObject, WalkVisitor } from './resource-walker.js';
import { isJsonObject, walkResource } from './resource-walker.js';
import { structureVisitor } from './structure-checks.js';
import { checkArrayLengths, isBase64, valueLimitsVisitor } from './value-limits.js';
import { dropWaivedIssues } from './waivers.js';

export interface ValidateResourceOptions {
  /** The type named by the request URL; the body's resourceType must match it. */
  expectedType?: string;
}

/** Error issues for `resource` against the R4 base definitions; an empty array means it is valid. */
export function validateResource(resource: unknown, options: ValidateResourceOptions = {}): OperationOutcomeIssue[] {
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

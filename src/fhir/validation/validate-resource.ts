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
  const unbounded = new Map<string, { type: string; value: string }>();
  walkResource(obj, getDataType(type), type, valueLimitsVisitor(limits, unbounded));
  if (limits.length > 0) return limits;

  const own: OperationOutcomeIssue[] = checkJsonShape(obj, type);
  const facts = primitiveFacts();
  walkResource(obj, getDataType(type), type, combine(structureVisitor(own), requiredBindingVisitor(own), primitiveFormatVisitor(own, facts), periodOrderVisitor(own)));
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

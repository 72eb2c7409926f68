// The base validation every write goes through (create, update, patch result, $validate): the R4 base
// definitions only; profiles are checked separately (src/fhir/profiles) on top of this.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { InternalTypeSchema } from '@medplum/core';
import { getDataType } from '@medplum/core';
import { isResourceType, loadDefinitions } from '../definitions.js';
import { issue } from '../outcome.js';
import { checkJsonShape } from './json-shape.js';
import { medplumWouldAccept } from './medplum-fast-path.js';
import { medplumIssues } from './medplum-issues.js';
import { periodOrderValue } from './period-order.js';
import type { PrimitiveFacts } from './primitive-formats.js';
import { correctMedplumIssues, primitiveFacts, primitiveFormatValue } from './primitive-formats.js';
import { requiredBindingValue } from './required-bindings.js';
import type { JsonObject, WalkVisitor } from './resource-walker.js';
import { isJsonObject, walkResource } from './resource-walker.js';
import type { SchemaProperty } from './schema-properties.js';
import { structureChecks } from './structure-checks.js';
import { checkArrayLengths, isBase64, limitUnknownKey, limitValue } from './value-limits.js';
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
  const checks = new BaseChecks(limits);
  walkResource(obj, getDataType(type), type, checks);
  const { unbounded, walked, facts } = checks;
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

/**
 * The visitor of the base validation's schema walk: the value limits on every node, then, only while no limit
 * has been found, the structure checks, required bindings, primitive formats and period order, in that order
 * (the order of their issues). One object with plain methods per call, not a combination of per-check
 * closures: the dispatch through those closures cost more than some of the checks.
 */
class BaseChecks implements WalkVisitor {
  readonly unbounded = new Map<string, { type: string; value: string }>();
  readonly walked: OperationOutcomeIssue[] = [];
  readonly facts: PrimitiveFacts = primitiveFacts();
  constructor(private readonly limits: OperationOutcomeIssue[]) {}

  value(prop: SchemaProperty, value: unknown, path: string): void {
    limitValue(this.limits, this.unbounded, prop, value, path);
    if (this.limits.length > 0) return;
    const walked = this.walked;
    structureChecks.value(walked, prop, value, path);
    requiredBindingValue(walked, prop, value, path);
    primitiveFormatValue(walked, this.facts, prop, value, path);
    periodOrderValue(walked, prop, value, path);
  }
  object(obj: JsonObject, _schema: InternalTypeSchema, path: string, resourceType: string | undefined): void {
    if (this.limits.length === 0) structureChecks.object(this.walked, obj, path, resourceType);
  }
  unknownKey(key: string, value: unknown, path: string): void {
    limitUnknownKey(this.limits, value, path);
    if (this.limits.length === 0) structureChecks.unknownKey(this.walked, key, path);
  }
  primitiveExtension(key: string, value: unknown, path: string): void {
    if (this.limits.length === 0) structureChecks.primitiveExtension(this.walked, key, value, path);
  }
  duplicateChoice(elementPath: string, keys: string[]): void {
    if (this.limits.length === 0) structureChecks.duplicateChoice(this.walked, elementPath, keys);
  }
  unknownResource(value: JsonObject, path: string): void {
    if (this.limits.length === 0) structureChecks.unknownResource(this.walked, value, path);
  }
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

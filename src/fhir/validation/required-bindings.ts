// Required bindings: medplum's validator does not check terminology, so a code outside a required value set
// (CarePlan.status = 'bogus') would otherwise be stored. Value sets we cannot enumerate are not enforced
// (see valueset-expansion.ts).
import type { InternalTypeSchema } from '@medplum/core';
import type { ElementDefinitionBinding, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../outcome.js';
import type { JsonObject, WalkVisitor } from './resource-walker.js';
import { isJsonObject, walkResource } from './resource-walker.js';
import type { SchemaProperty } from './schema-properties.js';
import type { Expansion } from './valueset-expansion.js';
import { codeMembership, codingMembership, expandValueSet } from './valueset-expansion.js';

/**
 * Checks every required binding of `schema` (a base type or a parsed profile) against `resource`, including
 * backbone elements, datatype elements and nested resources. Returns `code-invalid` error issues.
 */
export function checkRequiredBindings(resource: object, schema: InternalTypeSchema, path: string = schema.type): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  walkResource(resource as JsonObject, schema, path, requiredBindingVisitor(issues));
  return issues;
}

/** The walk visitor behind checkRequiredBindings, for callers that combine it with other checks in one pass. */
export function requiredBindingVisitor(issues: OperationOutcomeIssue[]): WalkVisitor {
  return { value: (prop, value, path) => requiredBindingValue(issues, prop, value, path), dotted: (_key, prop, value, path) => requiredBindingValue(issues, prop, value, path) };
}

/** The check behind requiredBindingVisitor, for one value of a known element. */
export function requiredBindingValue(issues: OperationOutcomeIssue[], prop: SchemaProperty, value: unknown, path: string): void {
  const binding = prop.element.binding;
  // '' is reported by json-shape.ts; repeating it as an unknown code adds nothing.
  if (binding?.strength !== 'required' || !binding.valueSet || value === '') return;
  const problem = checkBoundValue(binding, prop.typeCode, value);
  if (problem) issues.push(issue('code-invalid', `${problem} (${path})`, { expression: [path] }));
}

/** Why `value` violates the required binding, or undefined when it conforms or cannot be judged. */
export function checkBoundValue(binding: ElementDefinitionBinding, typeCode: string, value: unknown): string | undefined {
  const url = binding.valueSet;
  if (!url) return undefined;
  const expansion = expandValueSet(url);
  if (!expansion) return undefined;
  if (typeof value === 'string') {
    return codeMembership(expansion, value) === 'out' ? `Code '${value}' is not in the required value set ${url}` : undefined;
  }
  if (!isJsonObject(value)) return undefined;
  if (typeCode === 'Coding') return checkCoding(expansion, value, url);
  if (typeCode === 'CodeableConcept') return checkCodeableConcept(expansion, value, url);
  return undefined;
}

function checkCoding(expansion: Expansion, coding: JsonObject, url: string): string | undefined {
  const { system, code } = systemAndCode(coding);
  // A coding from a system the value set does not draw on is left alone, as the binding rules for Coding say.
  return codingMembership(expansion, system, code) === 'out'
    ? `Code '${system ?? ''}#${code ?? ''}' is not in the required value set ${url}`
    : undefined;
}

function checkCodeableConcept(expansion: Expansion, cc: JsonObject, url: string): string | undefined {
  const codings = Array.isArray(cc['coding']) ? cc['coding'].filter(isJsonObject) : [];
  for (const coding of codings) {
    const { system, code } = systemAndCode(coding);
    const membership = codingMembership(expansion, system, code);
    if (membership === 'in' || membership === 'unknown') return undefined;
  }
  if (codings.length === 0) return `A coding from the required value set ${url} is needed; text alone is not enough`;
  const found = codings
    .map((c) => {
      const { system, code } = systemAndCode(c);
      return `${system ?? ''}#${code ?? ''}`;
    })
    .join(', ');
  return `None of the codings (${found}) is in the required value set ${url}`;
}

function systemAndCode(coding: JsonObject): { system: string | undefined; code: string | undefined } {
  const system = coding['system'];
  const code = coding['code'];
  return { system: typeof system === 'string' ? system : undefined, code: typeof code === 'string' ? code : undefined };
}

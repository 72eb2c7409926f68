// FHIR JSON forbids empty strings, empty arrays and empty objects (ele-1: every element has a value or
// children other than id). Medplum reads '' and [] as absent and so accepts them silently, and lets {} through
// wherever it is not inside an array; this schema-free pass catches all three anywhere in the document.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../outcome.js';
import { isJsonObject } from './resource-walker.js';

export function checkJsonShape(resource: Record<string, unknown>, path: string): OperationOutcomeIssue[] {
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
  for (const key of keys) visitValue(obj[key], `${path}.${key}`, issues);
}

function visitValue(value: unknown, path: string, issues: OperationOutcomeIssue[]): void {
  if (value === '') {
    issues.push(issue('structure', 'Empty strings are not allowed in FHIR JSON; omit the element instead', { expression: [path] }));
  } else if (Array.isArray(value)) {
    if (value.length === 0) {
      issues.push(issue('structure', 'Empty arrays are not allowed in FHIR JSON; omit the element instead', { expression: [path] }));
    }
    for (let i = 0; i < value.length; i++) visitValue(value[i], `${path}[${i}]`, issues);
  } else if (isJsonObject(value)) {
    visitObject(value, path, typeof value['resourceType'] === 'string', issues);
  }
}

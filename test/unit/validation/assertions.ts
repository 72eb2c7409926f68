import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import { validateResource } from '../../../src/fhir/validation/index.js';

/** Asserts that validation reports an error with this code at this expression (other issues may accompany it). */
export function expectIssue(resource: unknown, code: OperationOutcomeIssue['code'], expression: string): OperationOutcomeIssue {
  const issues = validateResource(resource);
  const found = issues.find((i) => i.code === code && i.expression?.includes(expression));
  expect(found, `expected ${code} at ${expression}, got ${JSON.stringify(issues, null, 1)}`).toBeDefined();
  expect(found?.severity).toBe('error');
  return found as OperationOutcomeIssue;
}

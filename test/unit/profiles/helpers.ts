import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { profileUrlsOf, validateAgainstProfile } from '../../../src/fhir/profiles/index.js';

/** Validates against every Concord profile the resource claims. */
export function validate(resource: Resource): OperationOutcomeIssue[] {
  return profileUrlsOf(resource).flatMap((url) => validateAgainstProfile(resource, url));
}

/** The issues as `code expression` strings, easy to compare. */
export function summary(issues: OperationOutcomeIssue[]): string[] {
  return issues.map((i) => `${i.code} ${(i.expression ?? []).join(',')}`);
}

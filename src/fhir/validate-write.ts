// The structural validation every write runs before touching the database: the R4 base definitions,
// then every Concord profile the resource claims in meta.profile.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { hasErrors } from './outcome.js';
import { profileUrlsOf, validateAgainstProfile } from './profiles/index.js';
import { validateResource } from './validation/index.js';

export function validateForWrite(resource: unknown, expectedType: string): OperationOutcomeIssue[] {
  const base = validateResource(resource, { expectedType });
  if (hasErrors(base)) return base;
  const r = resource as Resource;
  return profileUrlsOf(r).flatMap((url) => validateAgainstProfile(r, url));
}

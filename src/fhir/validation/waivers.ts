// Base-spec invariants Concord deliberately does not enforce, each with the reason.
//
// ctm-1 (CareTeam) is no longer waived: since the 2026-12 contract a PractitionerRole member acts for its
// PractitionerRole.organization and only a Practitioner member carries onBehalfOf, as R4 says.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

type JsonObject = Record<string, unknown>;

export function dropWaivedIssues(_resource: JsonObject, issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  return issues;
}

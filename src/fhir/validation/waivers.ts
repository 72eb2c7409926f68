// Base-spec invariants Concord deliberately does not enforce, each with the reason.
//
// ctm-1 (CareTeam): "participant.onBehalfOf can only be populated when participant.member is a
// Practitioner". The Concord coordination contract requires onBehalfOf on EVERY participant (it is how a
// participant's organization holds a coordination scope) and allows the lead care manager's member to be
// a PractitionerRole. The contract is public API, so ctm-1 is waived for PractitionerRole members only;
// an onBehalfOf next to a Patient, RelatedPerson or Organization member is still refused.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

type JsonObject = Record<string, unknown>;

function participantMember(resource: JsonObject, expression: string | undefined): string | undefined {
  const m = expression ? /^CareTeam\.participant\[(\d+)\]$/.exec(expression) : null;
  if (!m) return undefined;
  const participants = resource.participant;
  const p = Array.isArray(participants) ? (participants[Number(m[1])] as JsonObject | undefined) : undefined;
  const member = p?.member as { reference?: unknown; type?: unknown } | undefined;
  return typeof member?.type === 'string' ? member.type : typeof member?.reference === 'string' ? member.reference.split('/')[0] : undefined;
}

export function dropWaivedIssues(resource: JsonObject, issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  if (resource.resourceType !== 'CareTeam') return issues;
  return issues.filter(
    (i) => !(i.code === 'invariant' && i.diagnostics?.startsWith('Constraint ctm-1 ') && participantMember(resource, i.expression?.[0]) === 'PractitionerRole'),
  );
}

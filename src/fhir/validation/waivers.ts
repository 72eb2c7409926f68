// Base-spec invariants Concord deliberately does not enforce, each with the reason.
//
// ctm-1 (CareTeam): "participant.onBehalfOf can only be populated when participant.member is a
// Practitioner". The Concord coordination contract requires onBehalfOf on EVERY participant (it is how a
// participant's organization holds a coordination scope) and allows the lead care manager's member to be
// a PractitionerRole. The contract is public API, so ctm-1 is waived for PractitionerRole members only;
// an onBehalfOf next to a Patient, RelatedPerson or Organization member is still refused.
//
// ras-2 (RiskAssessment.prediction): "probability is decimal implies (probability as decimal) <= 100".
// Not a waiver of the rule but of a misreading: for a prediction without a probability (only a
// qualitativeRisk, or only an outcome) the expression evaluates to empty, since `{} is decimal` is empty in
// FHIRPath, and medplum counts anything but `true` as a failure. An absent probability cannot exceed 100,
// so the constraint holds; a probabilityDecimal over 100 is still refused (medplum evaluates that
// correctly). ras-2 is the last constraint on prediction, so medplum stopping at it hides no other.
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

/** The JSON value at a medplum issue path such as `Bundle.entry[2].resource.prediction[0]` (no choice steps). */
function valueAt(resource: JsonObject, expression: string | undefined): unknown {
  if (!expression) return undefined;
  let node: unknown = resource;
  for (const step of expression.split('.').slice(1)) {
    const m = /^([A-Za-z0-9_]+)(?:\[(\d+)\])?$/.exec(step);
    if (!m || typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as JsonObject)[m[1]!];
    if (m[2] !== undefined) node = Array.isArray(node) ? node[Number(m[2])] : undefined;
  }
  return node;
}

function predictionWithoutDecimal(resource: JsonObject, expression: string | undefined): boolean {
  if (!expression || !/\.prediction\[\d+\]$/.test(expression)) return false;
  const p = valueAt(resource, expression);
  return typeof p === 'object' && p !== null && !Array.isArray(p) && (p as JsonObject).probabilityDecimal === undefined;
}

export function dropWaivedIssues(resource: JsonObject, issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const waived = (i: OperationOutcomeIssue, key: string): boolean => i.code === 'invariant' && i.diagnostics?.startsWith(`Constraint ${key} `) === true;
  if (resource.resourceType === 'CareTeam') {
    return issues.filter((i) => !(waived(i, 'ctm-1') && participantMember(resource, i.expression?.[0]) === 'PractitionerRole'));
  }
  return issues.filter((i) => !(waived(i, 'ras-2') && predictionWithoutDecimal(resource, i.expression?.[0])));
}

// Base-spec invariants Concord deliberately does not enforce, each with the reason.
//
// ctm-1 (CareTeam) is no longer waived: since the 2026-12 contract a PractitionerRole member acts for its
// PractitionerRole.organization and only a Practitioner member carries onBehalfOf, as R4 says.
//
// ras-2 (RiskAssessment.prediction): "probability is decimal implies (probability as decimal) <= 100".
// Not a waiver of the rule but of a misreading: for a prediction without a probability (only a
// qualitativeRisk, or only an outcome) the expression evaluates to empty, since `{} is decimal` is empty in
// FHIRPath, and medplum counts anything but `true` as a failure. An absent probability cannot exceed 100,
// so the constraint holds; a probabilityDecimal over 100 is still refused (medplum evaluates that
// correctly). ras-2 is the last constraint on prediction, so medplum stopping at it hides no other.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

type JsonObject = Record<string, unknown>;

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
  return issues.filter((i) => !(waived(i, 'ras-2') && predictionWithoutDecimal(resource, i.expression?.[0])));
}

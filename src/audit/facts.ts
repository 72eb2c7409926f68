// The facts of an AuditEvent that come from FHIR content rather than from the request line: which
// members a write or search concerns, and what a coordination-rule refusal disclosed. Only what is
// cheap to know: the member of a resource is read from its own subject/patient/beneficiary, never
// looked up.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { CodeSystems } from '../coordination/codes.js';
import { isResourceType } from '../fhir/definitions.js';
import type { Disclosure } from './balp.js';

const MEMBER_ELEMENTS = ['subject', 'patient', 'beneficiary'] as const;
const MEMBER_PARAMS = ['patient', 'subject', 'beneficiary'] as const;
const PATIENT_REF = /^Patient\/[A-Za-z0-9\-.]{1,64}$/;

/** The member a resource belongs to, when it says so directly (or is the member itself). */
export function memberOf(resource: Resource | undefined): string | undefined {
  if (!resource) return undefined;
  if (resource.resourceType === 'Patient') return resource.id ? `Patient/${resource.id}` : undefined;
  const r = resource as unknown as Record<string, { reference?: unknown } | undefined>;
  for (const element of MEMBER_ELEMENTS) {
    const ref = r[element]?.reference;
    if (typeof ref === 'string' && PATIENT_REF.test(ref)) return ref;
  }
  return undefined;
}

/** Members a search or conditional query names (patient=, subject=Patient/x, Patient?_id=). */
export function membersOfQuery(resourceType: string | undefined, params: URLSearchParams): string[] {
  const out: string[] = [];
  for (const name of MEMBER_PARAMS) {
    for (const value of params.getAll(name)) {
      for (const v of value.split(',')) {
        const ref = PATIENT_REF.test(v) ? v : name === 'patient' && /^[A-Za-z0-9\-.]{1,64}$/.test(v) ? `Patient/${v}` : undefined;
        if (ref) out.push(ref);
      }
    }
  }
  if (resourceType === 'Patient' || params.get('_type') === 'Patient') for (const id of params.getAll('_id').flatMap((v) => v.split(','))) if (/^[A-Za-z0-9\-.]{1,64}$/.test(id)) out.push(`Patient/${id}`);
  return out;
}

const REFERENCE = /\b([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})\b/g;

/**
 * Records a coordination-rule refusal named to the caller (the holder of a role or scope is another
 * organization's record): every `Type/id` in a rule issue's diagnostics except the caller's own.
 */
export function disclosuresOf(issues: readonly OperationOutcomeIssue[], own: ReadonlySet<string>): Disclosure[] {
  const out = new Map<string, Disclosure>();
  for (const i of issues) {
    const rule = i.details?.coding?.find((c) => c.system === CodeSystems.rule)?.code;
    if (!rule || !i.diagnostics) continue;
    // A Bundle entry's issue starts by naming the entry's own request (`Bundle.entry[0] (PUT CareTeam/x): `).
    const told = i.diagnostics.replace(/^Bundle\.entry\[\d+\] \([^)]*\): /, '');
    for (const m of told.matchAll(REFERENCE)) {
      const reference = `${m[1]!}/${m[2]!}`;
      if (!isResourceType(m[1]!) || own.has(reference) || out.has(reference)) continue;
      out.set(reference, { reference, description: `${rule}: ${i.diagnostics}` });
    }
  }
  return [...out.values()];
}

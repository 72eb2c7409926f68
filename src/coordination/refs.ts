// Literal references as the rules compare them. Only relative `Type/id` (optionally with
// `/_history/n`) is understood: the storage layer resolves a transaction's urn:uuid references to ids
// before calling the engine, and an absolute URL points at another server's resource.
import type { Reference, Resource } from '@medplum/fhirtypes';

export interface Ref {
  readonly type: string;
  readonly id: string;
}

// The same shape the search index reads (src/fhir/search/values.ts): the rules, the member locks and the
// coordination facts must see a reference to the member exactly when the member's record query does.
const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

export function parseRef(reference: Reference | string | undefined): Ref | undefined {
  const value = typeof reference === 'string' ? reference : reference?.reference;
  if (!value) return undefined;
  const m = RELATIVE.exec(value);
  if (!m?.[1] || !m[2]) return undefined;
  return { type: m[1], id: m[2] };
}

/** `Type/id` of a reference, or undefined when it is not a relative literal reference. */
export function refKey(reference: Reference | string | undefined): string | undefined {
  const r = parseRef(reference);
  return r ? `${r.type}/${r.id}` : undefined;
}

export function refOfType(reference: Reference | undefined, type: string): string | undefined {
  const r = parseRef(reference);
  return r?.type === type ? r.id : undefined;
}

export function resourceKey(resource: Pick<Resource, 'resourceType' | 'id'>): string {
  return `${resource.resourceType}/${resource.id ?? '?'}`;
}

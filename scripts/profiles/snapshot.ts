// Snapshot generation for Concord's hand-written differentials. It covers what Concord's profiles and
// extensions use (cardinality, type / targetProfile narrowing, bindings, fixed / pattern values, slicing
// with slices, constraints, mustSupport, unfolding a complex datatype's children) and refuses anything
// else loudly, so a differential that needs more fails the build instead of producing a wrong snapshot.
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

export type ResolveStructureDefinition = (url: string) => StructureDefinition | undefined;

const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';

export function generateSnapshot(profile: StructureDefinition, resolve: ResolveStructureDefinition): ElementDefinition[] {
  const base = profile.baseDefinition ? resolve(profile.baseDefinition) : undefined;
  if (!base?.snapshot?.element) throw new Error(`${profile.url}: base ${profile.baseDefinition} has no snapshot`);
  const elements = structuredClone(base.snapshot.element);
  let previous = 0;
  for (const diff of profile.differential?.element ?? []) {
    if (!diff.id || !diff.path) throw new Error(`${profile.url}: differential element without id/path`);
    const index = ensureElement(elements, diff.id, resolve);
    // A differential lists its elements in snapshot order; out-of-order input means a mistyped id.
    if (index < previous) throw new Error(`${profile.url}: differential element ${diff.id} is out of order`);
    previous = index;
    const target = elements[index];
    if (!target || target.path !== diff.path) throw new Error(`${profile.url}: ${diff.id} has path ${diff.path}, expected ${target?.path}`);
    mergeElement(target, diff, profile.url ?? '');
  }
  return elements;
}

/** Splits an element id into its segments ("CareTeam.participant.extension:lead" -> 3 segments). */
function segments(id: string): string[] {
  return id.split('.');
}

/** Is `id` the element `head`, one of its slices, or below either? */
function isWithin(id: string | undefined, head: string): boolean {
  return !!id && (id === head || id.startsWith(head + '.') || id.startsWith(head + ':'));
}

/** Returns the index of the element with this id, creating it (slice or unfolded child) when absent. */
function ensureElement(elements: ElementDefinition[], id: string, resolve: ResolveStructureDefinition): number {
  const existing = elements.findIndex((e) => e.id === id);
  if (existing >= 0) return existing;
  const parts = segments(id);
  const last = parts.pop();
  if (!last || parts.length === 0) throw new Error(`Unknown root element ${id}`);
  const parentId = parts.join('.');
  const [name, sliceName] = last.split(':');
  if (sliceName !== undefined) {
    const unslicedId = `${parentId}.${name}`;
    const unslicedIndex = ensureElement(elements, unslicedId, resolve);
    const unsliced = elements[unslicedIndex];
    if (!unsliced?.slicing) throw new Error(`Slice ${id} needs slicing on ${unslicedId}`);
    // New slices go after the sliced element, its children and the slices defined before.
    let end = unslicedIndex + 1;
    while (end < elements.length && isWithin(elements[end]?.id, unslicedId)) end++;
    const slice = structuredClone(unsliced);
    delete slice.slicing;
    slice.id = id;
    slice.sliceName = sliceName;
    // A slice's minimum is its own: the sliced element's minimum counts all slices together.
    slice.min = 0;
    elements.splice(end, 0, slice);
    return end;
  }
  const parentIndex = ensureElement(elements, parentId, resolve);
  const parent = elements[parentIndex];
  if (!parent) throw new Error(`No parent for ${id}`);
  if (elements.some((e) => e.id?.startsWith(parentId + '.'))) throw new Error(`No element ${id} under ${parentId}`);
  unfoldChildren(elements, parentIndex, resolve);
  const index = elements.findIndex((e) => e.id === id);
  if (index < 0) throw new Error(`No element ${id} in type of ${parentId}`);
  return index;
}

/** Inserts the children of a complex-typed element, taken from its type's (or type profile's) snapshot. */
function unfoldChildren(elements: ElementDefinition[], parentIndex: number, resolve: ResolveStructureDefinition): void {
  const parent = elements[parentIndex];
  const types = parent?.type ?? [];
  const type = types[0];
  if (!parent?.id || !parent.path || types.length !== 1 || !type?.code) {
    throw new Error(`Cannot unfold ${parent?.id}: it needs exactly one type`);
  }
  const typeUrl = type.profile?.[0] ?? HL7_SD + type.code;
  const typeSd = resolve(typeUrl);
  const typeElements = typeSd?.snapshot?.element;
  const root = typeElements?.[0];
  if (!typeElements || !root?.id || !root.path) throw new Error(`No snapshot for ${typeUrl}`);
  const rootId = root.id;
  const rootPath = root.path;
  const children = typeElements.slice(1).map((e) => {
    const child = structuredClone(e);
    child.id = parent.id + (e.id ?? '').slice(rootId.length);
    child.path = parent.path + (e.path ?? '').slice(rootPath.length);
    return child;
  });
  elements.splice(parentIndex + 1, 0, ...children);
}

const REPLACED_KEYS = new Set([
  'sliceName', 'short', 'definition', 'comment', 'requirements', 'label', 'mustSupport', 'isSummary',
  'slicing', 'binding', 'min', 'max', 'type', 'maxLength',
]);

function mergeElement(target: ElementDefinition, diff: ElementDefinition, profileUrl: string): void {
  for (const [key, value] of Object.entries(diff) as [keyof ElementDefinition, unknown][]) {
    if (key === 'id' || key === 'path') continue;
    if (key === 'min') {
      if ((value as number) < (target.min ?? 0)) throw new Error(`${diff.id}: min ${String(value)} loosens ${target.min}`);
    } else if (key === 'max') {
      if (cardinality(value as string) > cardinality(target.max ?? '*')) throw new Error(`${diff.id}: max ${String(value)} loosens ${target.max}`);
    } else if (key === 'type') {
      checkTypeNarrowing(diff.id ?? '', target.type ?? [], value as NonNullable<ElementDefinition['type']>);
    } else if (key === 'constraint') {
      // Constraints accumulate; `source` tells validators which ones this profile added.
      const added = (value as NonNullable<ElementDefinition['constraint']>).map((c) => ({ ...c, source: profileUrl }));
      target.constraint = [...(target.constraint ?? []), ...added];
      continue;
    } else if (!REPLACED_KEYS.has(key) && !key.startsWith('fixed') && !key.startsWith('pattern')) {
      throw new Error(`${diff.id}: differential key ${key} is not supported by the snapshot generator`);
    }
    (target as unknown as Record<string, unknown>)[key] = structuredClone(value);
  }
}

function cardinality(max: string): number {
  return max === '*' ? Number.POSITIVE_INFINITY : Number.parseInt(max, 10);
}

function checkTypeNarrowing(id: string, base: NonNullable<ElementDefinition['type']>, narrowed: NonNullable<ElementDefinition['type']>): void {
  for (const t of narrowed) {
    const original = base.find((b) => b.code === t.code);
    if (!original) throw new Error(`${id}: type ${t.code} is not allowed by the base`);
    const allowed = original.targetProfile;
    if (!t.targetProfile || !allowed || allowed.includes(HL7_SD + 'Resource')) continue;
    for (const target of t.targetProfile) {
      if (!allowed.includes(target)) throw new Error(`${id}: target ${target} is not allowed by the base`);
    }
  }
}

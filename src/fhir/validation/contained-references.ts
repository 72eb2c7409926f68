// dom-3: a contained resource SHALL be referenced from elsewhere in the containing resource (or itself refer to
// the container with '#'). Medplum skips this invariant because it needs descendants(); collecting every '#'
// string once is cheap. Any string counts as a reference, which is slightly permissive, never strict.
import type { JsonObject } from './resource-walker.js';
import { isJsonObject } from './resource-walker.js';

export interface UnreferencedContained {
  index: number;
  reason: string;
}

export function findUnreferencedContained(resource: JsonObject): UnreferencedContained[] {
  const contained = resource['contained'];
  if (!Array.isArray(contained) || contained.length === 0) return [];
  const refs = new Set<string>();
  collectLocalRefs(resource, refs);
  const out: UnreferencedContained[] = [];
  contained.forEach((c, index) => {
    if (!isJsonObject(c)) return;
    const id = c['id'];
    if (typeof id !== 'string' || id === '') out.push({ index, reason: 'a contained resource must have an id' });
    else if (!refs.has('#' + id) && !refs.has('#')) out.push({ index, reason: `contained resource '${id}' is not referenced` });
  });
  return out;
}

function collectLocalRefs(value: unknown, refs: Set<string>): void {
  if (typeof value === 'string') {
    if (value.startsWith('#')) refs.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collectLocalRefs(v, refs);
  } else if (isJsonObject(value)) {
    for (const key of Object.keys(value)) collectLocalRefs(value[key], refs);
  }
}

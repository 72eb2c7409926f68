// Which resource types a search consults besides the type it returns: a chain searches its target
// types, `_has` its source type, `_list` the List type, `_revinclude` its source type, and `_include`
// reads its target type. Access control needs this (a client allowed to search Observations must not
// learn of Patients through `Observation?subject:Patient.name=x`), so it is computed from the same parse
// the search itself runs, never from a second reading of the raw parameter names.
import { parseSearchRequest } from './parse.js';
import { isResourceType } from './parameters.js';
import type { Filter, SearchRequest } from './types.js';

export interface Reach {
  /** A resource type, or '*' when any type may be reached (an `_include` without a target type). */
  type: string;
  /** `search`: its indexes decide what matches; `read`: its resources are returned. */
  use: 'search' | 'read';
  /** Why the type is reached, in the client's words (for the refusal's diagnostics). */
  why: string;
}

function filterReach(filter: Filter, out: Reach[]): void {
  switch (filter.kind) {
    case 'chain': {
      const hint = filter.targetTypes.length > 1 ? ` (name one target type, e.g. ${filter.code}:${filter.targetTypes[0]}.…, to search fewer types)` : '';
      for (const type of filter.targetTypes) out.push({ type, use: 'search', why: `the chain on ${filter.code} searches ${type}${hint}` });
      filterReach(filter.filter, out);
      return;
    }
    case 'has':
      out.push({ type: filter.sourceType, use: 'search', why: `_has:${filter.sourceType}:${filter.code} searches ${filter.sourceType}` });
      filterReach(filter.filter, out);
      return;
    case 'list':
      out.push({ type: 'List', use: 'search', why: '_list looks up List resources' });
      return;
    default:
      return;
  }
}

/** The reach of a parsed search request. */
export function reachOfRequest(request: Pick<SearchRequest, 'filters' | 'include' | 'revinclude'>): Reach[] {
  const out: Reach[] = [];
  for (const f of request.filters) filterReach(f, out);
  for (const spec of request.include) {
    const type = spec.targetType ?? '*';
    out.push({ type, use: 'read', why: `_include=${spec.sourceType}:${spec.code}${spec.targetType ? `:${spec.targetType}` : ''} reads ${type === '*' ? 'any type (name the target type to read fewer)' : type}` });
  }
  for (const spec of request.revinclude) out.push({ type: spec.sourceType, use: 'search', why: `_revinclude=${spec.sourceType}:${spec.code} searches ${spec.sourceType}` });
  return out;
}

/** Parameters that can reach another type; only these are parsed (cheaply, whatever else the query holds). */
function reaches(key: string): boolean {
  const base = key.split(':', 1)[0]!;
  return key.includes('.') || base === '_has' || base === '_list' || base === '_include' || base === '_revinclude' || base === '_type';
}

/**
 * The reach of a search query on `resourceType` (undefined = system search), parsed as the search will
 * parse it (strict = Prefer: handling=strict). Throws the parser's 400 for a malformed parameter; an
 * unknown resource type reaches nothing here (the search answers 404 itself).
 */
export function reachOfSearch(resourceType: string | undefined, params: Iterable<[string, string]>, strict: boolean): Reach[] {
  if (resourceType !== undefined && !isResourceType(resourceType)) return [];
  const relevant = [...params].filter(([key]) => reaches(key));
  if (relevant.length === 0) return [];
  const { request } = parseSearchRequest(resourceType, relevant, { strict, maxCount: Number.MAX_SAFE_INTEGER });
  return reachOfRequest(request);
}

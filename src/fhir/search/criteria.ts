// Conditional criteria (If-None-Exist, PUT/DELETE [type]?criteria, conditional references in a
// transaction): a search whose result controls (_count, _sort, _include, ...) do not apply. Parsed
// strictly, because silently ignoring an unknown parameter would widen the match and, say, update or
// delete the wrong resources.
import { parseSearchRequest } from './parse.js';
import { reachOfRequest, type Reach } from './reach.js';
import type { SearchRequest } from './types.js';

const CONTROL = new Set(['_count', '_sort', '_include', '_revinclude', '_total', '_summary', '_elements', '_cursor', '_format', '_pretty']);

/** `Patient?identifier=x`, `?identifier=x` and `identifier=x` all name the criteria `identifier=x`. */
export function criteriaText(raw: string): string {
  return raw.startsWith('?') ? raw.slice(1) : raw.replace(/^[A-Za-z]+\?/, '');
}

export function parseCriteria(resourceType: string, params: Iterable<[string, string]>, limit: number): SearchRequest {
  const filtered = [...params].filter(([k]) => !CONTROL.has(k.split(':')[0]!));
  return parseSearchRequest(resourceType, filtered, { strict: true, maxCount: limit }).request;
}

/** The types the criteria search besides their own (chains, _has, _list). */
export function reachOfCriteria(resourceType: string, params: Iterable<[string, string]>): Reach[] {
  return reachOfRequest(parseCriteria(resourceType, params, Number.MAX_SAFE_INTEGER));
}

// Search complexity limits, checked on the raw query before it is parsed or turned into SQL. Each
// limit bounds how much SQL one request can produce (every parameter is a subquery, every OR value
// a predicate, every :contains term a sequential LIKE '%x%' scan, every _sort key a correlated
// subquery per row, every include a query per page), so a hostile query is refused in microseconds
// with 400 too-costly instead of occupying a database connection for minutes.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { FhirError, issue } from '../outcome.js';
import { assertNoNul } from '../hostile-input.js';

export interface SearchLimits {
  /** Query parameters (key=value pairs) other than _include/_revinclude. */
  maxParams: number;
  /** Comma-separated (OR) values in one parameter. */
  maxOrValues: number;
  /** Substring terms (:contains and :text values) over the whole query. */
  maxContainsTerms: number;
  /** _sort keys over the whole query. */
  maxSortKeys: number;
  /** _include plus _revinclude values. */
  maxIncludes: number;
  /** Of those, the :iterate (or :recurse) ones: each runs again on every iteration round. */
  maxIterateIncludes: number;
  /** Links in one chained / _has parameter (subject.organization.name = 2). */
  maxChainDepth: number;
}

/** The parser itself refuses chains deeper than this, so a configured limit cannot exceed it. */
export const PARSER_MAX_CHAIN_DEPTH = 4;

export const DEFAULT_SEARCH_LIMITS: SearchLimits = {
  maxParams: 50,
  maxOrValues: 100,
  maxContainsTerms: 10,
  maxSortKeys: 10,
  maxIncludes: 20,
  maxIterateIncludes: 5,
  maxChainDepth: PARSER_MAX_CHAIN_DEPTH,
};

const INCLUDES = new Set(['_include', '_revinclude']);

function tooCostly(limit: keyof SearchLimits, max: number, what: string, expression?: string): FhirError {
  const i: OperationOutcomeIssue = issue('too-costly', `Search refused: ${what} exceeds the limit of ${max} (${limit})`, expression ? { expression: [expression] } : {});
  return new FhirError(400, i);
}

/** Values separated by unescaped commas (`\,` is a literal comma), ignoring empty ones like the parser. */
function countOrValues(value: string): number {
  let n = 0;
  let nonEmpty = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (ch === 0x5c /* \ */) {
      i++;
      nonEmpty = true;
    } else if (ch === 0x2c /* , */) {
      if (nonEmpty) n++;
      nonEmpty = false;
    } else nonEmpty = true;
  }
  return nonEmpty ? n + 1 : n;
}

/** Chain links in a parameter name: each `.` and each `_has:` is one join. */
function chainLinks(key: string): number {
  let n = 0;
  for (let i = key.indexOf('.'); i >= 0; i = key.indexOf('.', i + 1)) n++;
  for (let i = key.indexOf('_has:'); i >= 0; i = key.indexOf('_has:', i + 1)) n++;
  return n;
}

function modifierOf(key: string): string | undefined {
  const last = key.slice(key.lastIndexOf('.') + 1);
  const colon = last.lastIndexOf(':');
  return colon >= 0 ? last.slice(colon + 1) : undefined;
}

/**
 * Throws FhirError 400 (too-costly) naming the first limit the query exceeds, and 400 for a NUL
 * character anywhere in it (PostgreSQL text cannot hold one). Runs before parsing.
 */
export function assertSearchLimits(params: URLSearchParams | Iterable<[string, string]>, limits: SearchLimits = DEFAULT_SEARCH_LIMITS): void {
  let params_ = 0;
  let contains = 0;
  let sortKeys = 0;
  let includes = 0;
  let iterate = 0;
  for (const [key, value] of params) {
    assertNoNul(key, 'A search parameter name');
    assertNoNul(value, `The value of search parameter ${key}`);
    const base = key.split(':', 1)[0]!;
    if (INCLUDES.has(base)) {
      const n = countOrValues(value);
      includes += n;
      if (includes > limits.maxIncludes) throw tooCostly('maxIncludes', limits.maxIncludes, `the number of _include/_revinclude values (${includes})`, key);
      if (key.includes(':')) {
        iterate += n;
        if (iterate > limits.maxIterateIncludes) throw tooCostly('maxIterateIncludes', limits.maxIterateIncludes, `the number of :iterate includes (${iterate})`, key);
      }
      continue;
    }
    if (++params_ > limits.maxParams) throw tooCostly('maxParams', limits.maxParams, `the number of search parameters (${params_})`);
    if (base === '_sort') {
      sortKeys += countOrValues(value);
      if (sortKeys > limits.maxSortKeys) throw tooCostly('maxSortKeys', limits.maxSortKeys, `the number of _sort keys (${sortKeys})`, '_sort');
      continue;
    }
    const values = countOrValues(value);
    if (values > limits.maxOrValues) throw tooCostly('maxOrValues', limits.maxOrValues, `the number of values of ${key} (${values})`, key);
    const links = chainLinks(key);
    if (links > limits.maxChainDepth) throw tooCostly('maxChainDepth', limits.maxChainDepth, `the chain depth of ${key} (${links})`, key);
    const modifier = modifierOf(key);
    if (modifier === 'contains' || modifier === 'text') {
      contains += values;
      if (contains > limits.maxContainsTerms) throw tooCostly('maxContainsTerms', limits.maxContainsTerms, `the number of :contains/:text terms (${contains})`, key);
    }
  }
}

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { FhirError } from '../../../src/fhir/outcome.js';
import { assertSearchLimits, DEFAULT_SEARCH_LIMITS, type SearchLimits } from '../../../src/fhir/search/limits.js';

const q = (query: string) => new URLSearchParams(query);

function refusal(query: string, limits: Partial<SearchLimits> = {}): { status: number; code: string; diagnostics: string } | undefined {
  try {
    assertSearchLimits(q(query), { ...DEFAULT_SEARCH_LIMITS, ...limits });
    return undefined;
  } catch (err) {
    if (!(err instanceof FhirError)) throw err;
    return { status: err.status, code: err.issues[0]!.code, diagnostics: err.issues[0]!.diagnostics ?? '' };
  }
}

describe('search complexity limits', () => {
  it('counts OR values like the parser: escaped commas are literal, empty values are ignored', () => {
    expect(refusal('family=a,b,c', { maxOrValues: 3 })).toBeUndefined();
    expect(refusal('family=a,b,c,d', { maxOrValues: 3 })?.diagnostics).toMatch(/maxOrValues/);
    expect(refusal('family=a\\,b\\,c\\,d', { maxOrValues: 1 })).toBeUndefined();
    expect(refusal('family=a,,b,,,', { maxOrValues: 2 })).toBeUndefined();
  });

  it('counts chain links from dots and _has, and substring terms from :contains and :text anywhere in a chain', () => {
    expect(refusal('_has:Observation:patient:_has:AuditEvent:entity:type=x', { maxChainDepth: 2 })).toBeUndefined();
    expect(refusal('_has:Observation:performer:organization.partof.name=x', { maxChainDepth: 2 })?.code).toBe('too-costly');
    expect(refusal('general-practitioner.name:contains=a,b&code:text=c', { maxContainsTerms: 3 })).toBeUndefined();
    expect(refusal('general-practitioner.name:contains=a,b&code:text=c,d', { maxContainsTerms: 3 })?.diagnostics).toMatch(/maxContainsTerms/);
    expect(refusal('name:exact=a,b,c,d', { maxContainsTerms: 0 })).toBeUndefined();
  });

  it('sums _sort keys and includes over repeated parameters; :iterate includes have their own limit', () => {
    expect(refusal('_sort=a,b&_sort=-c', { maxSortKeys: 3 })).toBeUndefined();
    expect(refusal('_sort=a,b&_sort=-c,d', { maxSortKeys: 3 })?.diagnostics).toMatch(/maxSortKeys/);
    expect(refusal('_include=A:b,A:c&_revinclude=B:d', { maxIncludes: 3 })).toBeUndefined();
    expect(refusal('_include=A:b,A:c&_revinclude=B:d&_include=X:y', { maxIncludes: 3 })?.diagnostics).toMatch(/maxIncludes/);
    expect(refusal('_include:iterate=A:b&_revinclude:iterate=B:c&_include=C:d', { maxIterateIncludes: 1 })?.diagnostics).toMatch(/maxIterateIncludes/);
    // Includes do not count as search parameters.
    expect(refusal('_include=A:b&_include=A:c&family=x', { maxParams: 1 })).toBeUndefined();
  });

  it('refuses a NUL in a name or value with 400 invalid, without echoing the value', () => {
    const r = refusal('family=secret\u0000value');
    expect(r).toMatchObject({ status: 400, code: 'invalid' });
    expect(r!.diagnostics).not.toContain('secret');
    expect(refusal('fam\u0000ily=x')).toMatchObject({ status: 400, code: 'invalid' });
  });

  it('is configured from the environment, and refuses a chain depth the parser cannot serve', () => {
    expect(loadConfig({}).searchLimits).toEqual(DEFAULT_SEARCH_LIMITS);
    const c = loadConfig({
      SEARCH_MAX_PARAMS: '5',
      SEARCH_MAX_OR_VALUES: '6',
      SEARCH_MAX_CONTAINS: '0',
      SEARCH_MAX_SORT_KEYS: '2',
      SEARCH_MAX_INCLUDES: '3',
      SEARCH_MAX_ITERATE_INCLUDES: '1',
      SEARCH_MAX_CHAIN_DEPTH: '2',
    });
    expect(c.searchLimits).toEqual({ maxParams: 5, maxOrValues: 6, maxContainsTerms: 0, maxSortKeys: 2, maxIncludes: 3, maxIterateIncludes: 1, maxChainDepth: 2 });
    expect(() => loadConfig({ SEARCH_MAX_CHAIN_DEPTH: '5' })).toThrow(/SEARCH_MAX_CHAIN_DEPTH/);
    expect(() => loadConfig({ SEARCH_MAX_PARAMS: '0' })).toThrow(/SEARCH_MAX_PARAMS/);
  });
});

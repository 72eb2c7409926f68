// Index extraction (src/fhir/search/extract.ts) was rewritten for speed: converters that append to the table
// instead of returning arrays to flatten, no per-call closures, each parameter's rows deduplicated as they are
// added. Its answer must be the answer of the code it replaced (reference/extract.ts and
// reference/simple-paths.ts, kept verbatim): the same rows in the same order in every table, and the same
// refusal (422 too-costly, same text) where one is due. Checked over every official R4 example (and the
// resources inside the example Bundles), the fixtures, the bench corpora, seeded mutants of each, and with
// small row bounds so that the refusals are reached.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { mutants as mutantsOf, random, resourceCorpus, type Obj } from '../resource-corpus.js';
import { loadDefinitions } from '../../../src/fhir/definitions.js';
import { extractIndexValues } from '../../../src/fhir/search/extract.js';
import { extractIndexValues as referenceExtract } from './reference/extract.js';

const corpus = (): Obj[] => resourceCorpus({ maxExampleBytes: 1024 * 1024, entriesPerBundle: 50, bench: { size: 100, patients: 300 } });

// Values that reach the converters' branches: codings without code, identifiers without value, duplicated
// items (deduplication), references of every form, dates, quantities, ranges, periods, strings with accents.
const REPLACEMENTS: (() => unknown)[] = [
  () => '',
  () => 'Ångström  Müller',
  () => '2026-02-30',
  () => '2020-01-01T10:00:00Z',
  () => 12.5,
  () => true,
  () => null,
  () => ({}),
  () => [],
  () => ({ coding: [{ system: 'http://s', code: 'c' }, { system: 'http://s', code: 'c' }, 'x', { display: 'D' }], text: 'T' }),
  () => ({ text: 'only text' }),
  () => ({ system: 'http://s', value: 'v', type: { text: 'Kind' } }),
  () => ({ reference: 'Patient/p1' }),
  () => ({ reference: 'http://other.example/fhir/Patient/p2/_history/3' }),
  () => ({ reference: '#c1', identifier: { system: 'http://s', value: 'i' } }),
  () => ({ type: 'Patient', identifier: { value: 'i' } }),
  () => 'http://example.org/canonical|1.0',
  () => ({ value: 5, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' }),
  () => ({ low: { value: 1, unit: 'a' }, high: { value: 2 } }),
  () => ({ start: '2020', end: '2021-06' }),
  () => ({ value: 3, currency: 'EUR' }),
  () => ({ family: 'Doe', given: ['A', 'A', ''], line: ['1 Main St'], city: 'X' }),
];

function mutants(resource: Obj, next: () => number, count: number): Obj[] {
  return mutantsOf(resource, next, count, ['resourceType'], (at, key, inArray, choice) => {
    if (choice < 0.15 && !inArray) delete at[key];
    else if (choice < 0.3) at[key] = Array.isArray(at[key]) ? [...(at[key] as unknown[]), ...(at[key] as unknown[])] : [at[key], at[key]];
    else if (choice < 0.35 && !inArray) at[`_${String(key)}`] = { extension: [{ url: 'http://example.org/x', valueString: 'a' }] };
    else at[key] = REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)]!();
  });
}

function outcome(extract: (r: Obj, max?: number) => unknown, resource: Obj, max?: number): unknown {
  try {
    return { rows: extract(structuredClone(resource), max) };
  } catch (err) {
    return { error: err instanceof Error ? [err.constructor.name, err.message, JSON.stringify(err)] : String(err) };
  }
}

describe('index extraction', () => {
  it('gives the rows of the extraction it replaced, over examples, corpora, mutants and small row bounds', () => {
    loadDefinitions();
    const next = random(31);
    let compared = 0;
    let refused = 0;
    let rows = 0;
    const different: string[] = [];
    for (const resource of corpus()) {
      const inputs = [resource, ...(JSON.stringify(resource).length <= 32 * 1024 ? mutants(resource, next, 3) : [])];
      for (const input of inputs) {
        for (const max of [undefined, 1 + Math.floor(next() * 4)]) {
          compared++;
          const expected = outcome(referenceExtract, input, max);
          const actual = outcome(extractIndexValues, input, max);
          if ('error' in (expected as Obj)) refused++;
          else rows += Object.values((expected as { rows: Record<string, unknown[]> }).rows).reduce((n, t) => n + t.length, 0);
          if (!isDeepStrictEqual(actual, expected)) {
            different.push(`${JSON.stringify(input).slice(0, 300)} (max ${String(max)})\n  expected ${JSON.stringify(expected).slice(0, 600)}\n  actual   ${JSON.stringify(actual).slice(0, 600)}`);
          }
        }
      }
    }
    console.log(`index extraction: ${compared} extractions compared, ${refused} refused, ${rows} rows`);
    expect(different.slice(0, 5)).toEqual([]);
    expect(refused).toBeGreaterThan(compared / 10);
    expect(rows).toBeGreaterThan(compared * 5);
  }, 900_000);
});

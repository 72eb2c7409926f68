// Search request parsing: every parameter type, modifier, prefix, escaping, and 400 on malformed input.
import { describe, expect, it } from 'vitest';
import { FhirError } from '../../../src/fhir/outcome.js';
import { encodeCursor } from '../../../src/fhir/search/cursor.js';
import { parseSearchRequest, splitEscaped, unescapeValue } from '../../../src/fhir/search/parse.js';
import type { Filter } from '../../../src/fhir/search/types.js';

const parse = (type: string | undefined, q: string, strict = false) =>
  parseSearchRequest(type, new URLSearchParams(q), { strict, maxCount: 100 });
const filter = (type: string, q: string): Filter => {
  const f = parse(type, q).request.filters[0];
  if (!f) throw new Error('no filter');
  return f;
};
const rejects = (type: string | undefined, q: string, strict = false): void => {
  let err: unknown;
  try {
    parse(type, q, strict);
  } catch (e) {
    err = e;
  }
  expect(err, q).toBeInstanceOf(FhirError);
  expect((err as FhirError).status).toBe(400);
};

describe('parseSearchRequest', () => {
  it('token values', () => {
    expect(filter('Patient', 'identifier=urn:mrn|M1')).toMatchObject({ kind: 'param', code: 'identifier', paramType: 'token', values: [{ kind: 'token', system: 'urn:mrn', code: 'M1' }] });
    expect(filter('Patient', 'gender=male,female')).toMatchObject({ values: [{ code: 'male' }, { code: 'female' }] });
    expect(filter('Patient', 'identifier=|M1')).toMatchObject({ values: [{ system: null, code: 'M1' }] });
    expect(filter('Patient', 'identifier=urn:mrn|')).toMatchObject({ values: [{ system: 'urn:mrn' }] });
    expect(filter('Patient', 'gender:not=male')).toMatchObject({ modifier: 'not' });
    expect(filter('CarePlan', 'category:text=Assess')).toMatchObject({ modifier: 'text', values: [{ kind: 'string', normalized: 'assess' }] });
  });

  it('escaping of , $ | and \\', () => {
    expect(splitEscaped('a\\,b,c', ',')).toEqual(['a\\,b', 'c']);
    expect(unescapeValue('a\\,b\\$c\\|d\\\\e')).toBe('a,b$c|d\\e');
    expect(filter('Patient', 'identifier=urn:x\\|y|v\\,1')).toMatchObject({ values: [{ system: 'urn:x|y', code: 'v,1' }] });
    expect(filter('Patient', 'name=a\\,b')).toMatchObject({ values: [{ value: 'a,b' }] });
  });

  it('string modifiers and normalisation', () => {
    expect(filter('Patient', 'name=Jöhn')).toMatchObject({ values: [{ kind: 'string', value: 'Jöhn', normalized: 'john' }] });
    expect(filter('Patient', 'name:exact=X')).toMatchObject({ modifier: 'exact' });
    expect(filter('Patient', 'name:contains=X')).toMatchObject({ modifier: 'contains' });
    expect(filter('Patient', 'name:missing=true')).toMatchObject({ kind: 'missing', missing: true });
  });

  it('number, date and quantity prefixes and precision', () => {
    expect(filter('RiskAssessment', 'probability=gt0.5')).toMatchObject({ values: [{ kind: 'number', prefix: 'gt', value: 0.5 }] });
    const n = filter('RiskAssessment', 'probability=100');
    expect(n).toMatchObject({ values: [{ prefix: 'eq', low: 99.5, high: 100.5 }] });
    for (const prefix of ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']) {
      expect(filter('Patient', `birthdate=${prefix}2020`)).toMatchObject({ values: [{ kind: 'date', prefix }] });
    }
    expect(filter('Patient', 'birthdate=2020')).toMatchObject({ values: [{ low: '2020-01-01T00:00:00.000Z', high: '2021-01-01T00:00:00.000Z' }] });
    expect(filter('Patient', 'birthdate=2020-02')).toMatchObject({ values: [{ low: '2020-02-01T00:00:00.000Z', high: '2020-03-01T00:00:00.000Z' }] });
    expect(filter('Patient', 'birthdate=2020-02-29')).toMatchObject({ values: [{ low: '2020-02-29T00:00:00.000Z', high: '2020-03-01T00:00:00.000Z' }] });
    expect(filter('Observation', 'date=2020-01-01T10:00%2B02:00')).toMatchObject({ values: [{ low: '2020-01-01T08:00:00.000Z', high: '2020-01-01T08:01:00.000Z' }] });
    expect(filter('Observation', 'date=2020-01-01T10:00:00.5Z')).toMatchObject({ values: [{ low: '2020-01-01T10:00:00.500Z', high: '2020-01-01T10:00:00.600Z' }] });
    expect(filter('Observation', 'value-quantity=le5.4|http://unitsofmeasure.org|mg')).toMatchObject({
      values: [{ kind: 'quantity', prefix: 'le', value: 5.4, system: 'http://unitsofmeasure.org', unit: 'mg' }],
    });
    expect(filter('Observation', 'value-quantity=5.4||mg')).toMatchObject({ values: [{ unit: 'mg' }] });
  });

  it('references, type modifier, :identifier, uri modifiers', () => {
    expect(filter('CareTeam', 'patient=123')).toMatchObject({ paramType: 'reference', values: [{ kind: 'reference', id: '123' }] });
    expect(filter('CareTeam', 'subject=Patient/123')).toMatchObject({ values: [{ type: 'Patient', id: '123' }] });
    expect(filter('CareTeam', 'subject=Patient/123/_history/2')).toMatchObject({ values: [{ type: 'Patient', id: '123' }] });
    expect(filter('CareTeam', 'participant:Practitioner=9')).toMatchObject({ modifier: 'type', targetType: 'Practitioner', values: [{ type: 'Practitioner', id: '9' }] });
    expect(filter('CareTeam', 'subject=http://x.org/fhir/Patient/1')).toMatchObject({ values: [{ url: 'http://x.org/fhir/Patient/1' }] });
    expect(filter('CareTeam', 'subject:identifier=urn:mrn|1')).toMatchObject({ modifier: 'identifier', values: [{ kind: 'token', system: 'urn:mrn', code: '1' }] });
    expect(filter('ValueSet', 'url:below=http://x')).toMatchObject({ modifier: 'below', values: [{ kind: 'uri', value: 'http://x' }] });
    expect(filter('ValueSet', 'url:above=http://x/a/b')).toMatchObject({ modifier: 'above' });
  });

  it('composite', () => {
    expect(filter('Observation', 'code-value-quantity=http://loinc.org|1$gt5')).toMatchObject({
      kind: 'param', paramType: 'composite',
      values: [{ kind: 'composite', parts: [{ kind: 'token', system: 'http://loinc.org', code: '1' }, { kind: 'quantity', prefix: 'gt', value: 5 }] }],
    });
  });

  it('chains and _has', () => {
    expect(filter('CareTeam', 'subject:Patient.identifier=x')).toMatchObject({ kind: 'chain', code: 'subject', targetTypes: ['Patient'], filter: { kind: 'param', code: 'identifier' } });
    expect(filter('CarePlan', 'care-team.participant.name=x')).toMatchObject({ kind: 'chain', filter: { kind: 'chain', code: 'participant' } });
    expect(filter('Patient', '_has:Observation:patient:code=1234')).toMatchObject({ kind: 'has', sourceType: 'Observation', code: 'patient', filter: { code: 'code' } });
    expect(filter('Patient', '_has:Observation:patient:_has:AuditEvent:entity:type=x')).toMatchObject({ kind: 'has', filter: { kind: 'has', sourceType: 'AuditEvent' } });
  });

  it('result parameters', () => {
    const { request } = parse('CareTeam', '_count=5&_sort=-date,status&_total=accurate&_summary=true&_elements=id,status&_include=CareTeam:participant&_revinclude:iterate=CarePlan:care-team');
    expect(request).toMatchObject({
      resourceType: 'CareTeam', count: 5, total: 'accurate', summary: 'true', elements: ['id', 'status'],
      sort: [{ code: 'date', descending: true, paramType: 'date' }, { code: 'status', descending: false }],
      include: [{ sourceType: 'CareTeam', code: 'participant', iterate: false }],
      revinclude: [{ sourceType: 'CarePlan', code: 'care-team', iterate: true }],
    });
    expect(parse('Patient', '').request.count).toBe(20);
    const big = parse('Patient', '_count=5000');
    expect(big.request.count).toBe(100);
    const cur = parse('Patient', `_cursor=${encodeCursor({ maxRid: 10, offset: 20, afterRid: 7 })}`);
    expect(cur.request.cursor).toEqual({ maxRid: 10, offset: 20, afterRid: 7 });
    expect(parse(undefined, '_type=Patient,Observation&_id=1').request).toMatchObject({ types: ['Patient', 'Observation'], filters: [{ kind: 'id', ids: ['1'] }] });
  });

  it('unknown parameters: warning when lenient, 400 when strict', () => {
    const lenient = parse('Patient', 'bogus=1&gender=male');
    expect(lenient.request.filters).toHaveLength(1);
    expect(lenient.warnings).toMatchObject([{ severity: 'warning', code: 'not-supported', expression: ['bogus'] }]);
    rejects('Patient', 'bogus=1', true);
    rejects('Patient', '_text=x', true);
    expect(parse('Patient', 'gender=').request.filters).toHaveLength(0);
  });

  it('malformed values are 400', () => {
    for (const q of [
      'birthdate=2020-13', 'birthdate=2020-02-30', 'birthdate=2021-02-29', 'birthdate=xx2020', 'birthdate=2020-01-01T24:00',
      'birthdate=2020-01-01T10:00+15:00', 'probability=abc', 'probability=gt', 'value-quantity=1|a', '_count=-1', '_count=x',
      '_sort=x,-', '_sort=-', '_total=some', '_summary=maybe', '_elements=a;b', 'identifier=a|b|c', 'identifier=|',
      'gender:contains=x', 'name:below=x', 'name:missing=yes', 'subject=Bogus/1', 'participant:Bogus=1', 'patient=Practitioner/1',
      'subject=a b', '_has:Bogus:x:y=1', '_has:Observation:code:status=x', '_include=Bogus:x', '_include=CareTeam',
      '_include=CareTeam:status', '_include:bogus=CareTeam:subject', '_cursor=%%%', 'code-value-quantity=a', 'a.b.c=1', '_id=a/b',
      'subject:Patient.organization.partof.partof.partof.name=x',
    ]) {
      const type = q.startsWith('code-value') || q.startsWith('value-quantity') ? 'Observation'
        : q.startsWith('probability') ? 'RiskAssessment'
        : /^(subject|participant|patient|_include)/.test(q) ? 'CareTeam' : 'Patient';
      if (q === 'a.b.c=1') {
        expect(parse(type, q).warnings).toHaveLength(1);
        rejects(type, q, true);
        continue;
      }
      rejects(type, q);
    }
  });
});

import { describe, expect, it } from 'vitest';
import type { ValueSet } from '@medplum/fhirtypes';
import { codeMembership, codingMembership, expand, expandValueSet, registerTerminology } from '../../../src/fhir/validation/index.js';

const vs = (compose: ValueSet['compose']): ValueSet => ({ resourceType: 'ValueSet', status: 'active', compose });

describe('ValueSet expansion', () => {
  it('includes whole CodeSystems with their nested concepts', () => {
    const e = expandValueSet('http://hl7.org/fhir/ValueSet/condition-clinical');
    expect(e && [...(e.codes.values().next().value ?? [])].sort()).toEqual(['active', 'inactive', 'recurrence', 'relapse', 'remission', 'resolved']);
  });

  it('caches per url, ignoring a |version suffix', () => {
    expect(expandValueSet('http://hl7.org/fhir/ValueSet/request-status|4.0.1')).toBe(expandValueSet('http://hl7.org/fhir/ValueSet/request-status'));
  });

  it('includes other value sets', () => {
    const e = expandValueSet('http://hl7.org/fhir/ValueSet/event-or-request-resource-types');
    expect(e && codeMembership(e, 'Procedure')).toBe('in'); // an event type
    expect(e && codeMembership(e, 'ServiceRequest')).toBe('in'); // a request type
    expect(e && codeMembership(e, 'Patient')).toBe('out');
  });

  it('loads the v3 and v2 bundles for urls valuesets.json does not hold', () => {
    const e = expandValueSet('http://terminology.hl7.org/ValueSet/v2-0136');
    expect(e && codeMembership(e, 'Y')).toBe('in');
  });

  it('applies explicit excludes', () => {
    const e = expand(
      vs({
        include: [{ system: 'http://hl7.org/fhir/request-status' }],
        exclude: [{ system: 'http://hl7.org/fhir/request-status', concept: [{ code: 'unknown' }] }],
      }),
    );
    expect(codeMembership(e, 'active')).toBe('in');
    expect(codeMembership(e, 'unknown')).toBe('out');
  });

  it('treats filters, versions and unknown systems as not enumerable', () => {
    const filtered = expand(vs({ include: [{ system: 'http://hl7.org/fhir/request-status', filter: [{ property: 'concept', op: 'is-a', value: 'active' }] }] }));
    expect(codeMembership(filtered, 'bogus')).toBe('unknown');
    const versioned = expand(vs({ include: [{ system: 'http://hl7.org/fhir/request-status', version: '4.0.1' }] }));
    expect(codingMembership(versioned, 'http://hl7.org/fhir/request-status', 'bogus')).toBe('unknown');
    const snomed = expand(vs({ include: [{ system: 'http://snomed.info/sct' }, { system: 'http://hl7.org/fhir/request-status' }] }));
    expect(codingMembership(snomed, 'http://snomed.info/sct', '123')).toBe('unknown');
    expect(codingMembership(snomed, 'http://hl7.org/fhir/request-status', 'bogus')).toBe('out');
    expect(codeMembership(snomed, 'bogus')).toBe('unknown');
    const unknownVs = expand(vs({ include: [{ valueSet: ['http://example.org/ValueSet/nowhere'] }] }));
    expect(codingMembership(unknownVs, 'http://hl7.org/fhir/request-status', 'bogus')).toBe('unknown');
  });

  it('enumerates explicit concepts even for systems it does not hold', () => {
    const e = expandValueSet('http://hl7.org/fhir/ValueSet/procedure-outcome');
    expect(e && codingMembership(e, 'http://snomed.info/sct', '385669000')).toBe('in');
    expect(e && codingMembership(e, 'http://snomed.info/sct', '1')).toBe('out');
  });

  it('returns undefined for an unknown value set', () => {
    expect(expandValueSet('http://example.org/ValueSet/none')).toBeUndefined();
  });

  it('uses registered terminology, replacing earlier expansions', () => {
    const url = 'http://example.org/ValueSet/registered-test';
    expect(expandValueSet(url)).toBeUndefined();
    registerTerminology([
      { resourceType: 'CodeSystem', url: 'http://example.org/cs', status: 'active', content: 'complete', concept: [{ code: 'a' }] },
      { ...vs({ include: [{ system: 'http://example.org/cs' }] }), url },
    ]);
    const e = expandValueSet(url);
    expect(e && codeMembership(e, 'a')).toBe('in');
    expect(e && codeMembership(e, 'b')).toBe('out');
  });
});

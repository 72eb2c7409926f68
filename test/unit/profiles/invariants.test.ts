// invariantHolds reuses the outcome of an invariant that only reads its node: the outcome must stay a
// function of exactly what the expression can see.
import { describe, expect, it } from 'vitest';
import { invariantHolds, MAX_MEMOISED_NODE_CHARS, MAX_MEMOISED_OUTCOMES, memoisedOutcomes } from '../../../src/fhir/profiles/invariants.js';

const HCPCS = "coding.where(system = 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets').exists()";
const concept = (system: string) => ({ coding: [{ system, code: 'T1019' }] });
const root = (id: string) => ({ resourceType: 'ServiceRequest', id });

describe('invariantHolds', () => {
  it('answers by the node value: equal values alike, a changed value anew', () => {
    const cms = 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets';
    expect(invariantHolds('ServiceRequest.code', HCPCS, concept(cms), root('a')).holds).toBe(true);
    expect(invariantHolds('ServiceRequest.code', HCPCS, concept(cms), root('b')).holds).toBe(true);
    expect(invariantHolds('ServiceRequest.code', HCPCS, concept('http://example.org/other'), root('a')).holds).toBe(false);
    // The same object, changed after its first evaluation, is judged by its new value.
    const node = concept(cms);
    expect(invariantHolds('ServiceRequest.code', HCPCS, node, root('a')).holds).toBe(true);
    node.coding[0]!.system = 'http://example.org/other';
    expect(invariantHolds('ServiceRequest.code', HCPCS, node, root('a')).holds).toBe(false);
  });

  it('evaluates an expression that reads the resource (%resource) on every call', () => {
    const expression = "%resource.id = 'a'";
    const node = concept('http://example.org/x');
    expect(invariantHolds('ServiceRequest.code', expression, node, root('a')).holds).toBe(true);
    expect(invariantHolds('ServiceRequest.code', expression, node, root('b')).holds).toBe(false);
  });

  it('keys the outcome by the element path, which types the node', () => {
    const value = { url: 'http://example.org/x', valueString: 's' };
    expect(invariantHolds('Extension', '$this is Extension', value, root('a')).holds).toBe(true);
    expect(invariantHolds('Coding', '$this is Extension', value, root('a')).holds).toBe(false);
  });

  it('reports an evaluation error each time it is asked, and stays correct past its capacity', () => {
    const broken = "coding.where(system = 'x').exists() and code.matches('[')";
    const first = invariantHolds('ServiceRequest.code', broken, { coding: [{ system: 'x' }], code: 'a' }, root('a'));
    const again = invariantHolds('ServiceRequest.code', broken, { coding: [{ system: 'x' }], code: 'a' }, root('a'));
    expect(again).toEqual(first);
    for (let i = 0; i <= MAX_MEMOISED_OUTCOMES; i++) invariantHolds('ServiceRequest.code', HCPCS, concept(`urn:s${i}`), root('a'));
    expect(invariantHolds('ServiceRequest.code', HCPCS, concept('http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets'), root('a')).holds).toBe(true);
  });

  it('memoises no large node (its JSON would be held as a key), and still answers it rightly', () => {
    const big = { coding: Array.from({ length: 40 }, (_, i) => ({ system: 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets', code: `T${1000 + i}` })) };
    expect(JSON.stringify(big).length).toBeGreaterThan(MAX_MEMOISED_NODE_CHARS);
    const before = memoisedOutcomes();
    for (let i = 0; i < 5; i++) expect(invariantHolds('ServiceRequest.code', HCPCS, big, root('a')).holds).toBe(true);
    expect(memoisedOutcomes()).toBe(before);
    expect(invariantHolds('ServiceRequest.code', HCPCS, concept('urn:small-one'), root('a')).holds).toBe(false);
    expect(memoisedOutcomes()).toBe(before + 1);
  });

  it('answers an invariant by the elements it names: the rest of the node may differ, a named one may not', () => {
    const expression = "scope.coding.where(code = 'treatment').exists() implies provision.type = 'deny'";
    const consent = (patient: string, type: string, scope = 'treatment') => ({
      resourceType: 'Consent',
      id: patient,
      patient: { reference: `Patient/${patient}` },
      dateTime: `2025-01-${patient.slice(-2)}`,
      scope: { coding: [{ code: scope }] },
      provision: { type },
    });
    const first = consent('p01', 'deny');
    expect(invariantHolds('Consent', expression, first, first).holds).toBe(true);
    const before = memoisedOutcomes();
    const other = consent('p02', 'deny');
    expect(invariantHolds('Consent', expression, other, other).holds).toBe(true);
    expect(memoisedOutcomes()).toBe(before); // same scope and provision: reused
    const permit = consent('p03', 'permit');
    expect(invariantHolds('Consent', expression, permit, permit).holds).toBe(false);
    const privacy = consent('p04', 'permit', 'patient-privacy');
    expect(invariantHolds('Consent', expression, privacy, privacy).holds).toBe(true);
    // A primitive's extension (`_x`) and a choice element (`valueX`) belong to the name x / value.
    const hasValue = "value.exists() and _note.empty() and note.exists()";
    expect(invariantHolds('Extension', hasValue, { url: 'u', valueString: 's', note: 'n' }, root('a')).holds).toBe(true);
    expect(invariantHolds('Extension', "value.exists()", { url: 'u', valueBoolean: false }, root('a')).holds).toBe(true);
    expect(invariantHolds('Extension', "value.exists()", { url: 'u' }, root('a')).holds).toBe(false);
  });

  it('keys an expression that sees the whole node ($this, children(), descendants()) by all of it', () => {
    const expression = 'children().count() = 2';
    expect(invariantHolds('Coding', expression, { system: 's', code: 'c' }, root('a')).holds).toBe(true);
    expect(invariantHolds('Coding', expression, { system: 's', code: 'c', display: 'd' }, root('a')).holds).toBe(false);
    const self = "$this.code = 'c'";
    expect(invariantHolds('Coding', self, { system: 's', code: 'c' }, root('a')).holds).toBe(true);
    expect(invariantHolds('Coding', self, { system: 's', code: 'd' }, root('a')).holds).toBe(false);
  });
});

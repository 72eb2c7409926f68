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
});

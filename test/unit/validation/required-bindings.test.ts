import { describe, expect, it } from 'vitest';
import { getDataType, parseStructureDefinition } from '@medplum/core';
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import { readResourceDefinition } from '../../../src/fhir/definitions.js';
import { checkBoundValue, checkRequiredBindings, validateResource } from '../../../src/fhir/validation/index.js';
import { expectIssue } from './assertions.js';
import { carePlan, copy, patient } from './fixtures.js';

const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const condition = (clinicalStatus: unknown): Record<string, unknown> => ({
  resourceType: 'Condition',
  subject: { reference: 'Patient/pat-1' },
  clinicalStatus,
});

describe('required bindings on code elements', () => {
  it('rejects CarePlan.status bogus', () => {
    const cp = { ...copy(carePlan), status: 'bogus' };
    expect(validateResource(cp)).toEqual([
      expect.objectContaining({ severity: 'error', code: 'code-invalid', expression: ['CarePlan.status'] }),
    ]);
  });

  it('rejects codes in backbone elements', () => {
    const cp = copy(carePlan) as unknown as { activity: { detail: Record<string, unknown> }[] };
    const detail = cp.activity[0]?.detail;
    if (detail) detail['status'] = 'paused';
    expectIssue(cp, 'code-invalid', 'CarePlan.activity[0].detail.status');
  });

  it('rejects codes inside complex datatypes', () => {
    const p = { ...copy(patient), telecom: [{ system: 'pager2', value: '1' }] };
    expectIssue(p, 'code-invalid', 'Patient.telecom[0].system');
  });

  it('rejects codes inside choice-typed values', () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, valueQuantity: { value: 1, comparator: '<<' } };
    expectIssue(obs, 'code-invalid', 'Observation.value.ofType(Quantity).comparator');
  });

  it('rejects codes in contained resources and Bundle entries', () => {
    const p = { ...copy(patient), contained: [{ resourceType: 'Organization', id: 'org', name: 'X', telecom: [{ system: 'telegraph', value: '1' }] }] };
    expectIssue(p, 'code-invalid', 'Patient.contained[0].telecom[0].system');
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', gender: 'x' } }] };
    expectIssue(bundle, 'code-invalid', 'Bundle.entry[0].resource.gender');
  });

  it('honours explicit concept lists, not the whole CodeSystem they draw from', () => {
    // immunization-status lists completed | entered-in-error | not-done from event-status.
    const imm = (status: string): Record<string, unknown> => ({
      resourceType: 'Immunization',
      status,
      vaccineCode: { text: 'flu' },
      patient: { reference: 'Patient/pat-1' },
      occurrenceDateTime: '2024-01-01',
    });
    expect(validateResource(imm('completed'))).toEqual([]);
    expectIssue(imm('in-progress'), 'code-invalid', 'Immunization.status');
  });

  it('does not enforce value sets it cannot expand completely', () => {
    // mimetypes (urn:ietf:bcp:13) and ucum-units are not enumerable from the shipped definitions.
    const p = { ...copy(patient), photo: [{ contentType: 'application/x-made-up', data: 'AAAA' }] };
    expect(validateResource(p)).toEqual([]);
  });
});

describe('required bindings on extensions', () => {
  it('leaves extension values unbound', () => {
    const p = { ...copy(patient), extension: [{ url: 'http://example.org/x', valueCode: 'anything-goes' }] };
    expect(validateResource(p)).toEqual([]);
  });

  it('still applies the bindings of datatypes carried by an extension', () => {
    const p = { ...copy(patient), extension: [{ url: 'http://example.org/x', valueContactPoint: { system: 'pigeon', value: '1' } }] };
    expectIssue(p, 'code-invalid', 'Patient.extension[0].value.ofType(ContactPoint).system');
    const onPrimitive = {
      ...copy(patient),
      _birthDate: { extension: [{ url: 'http://example.org/x', valueQuantity: { value: 1, comparator: '<<' } }] },
    };
    expectIssue(onPrimitive, 'code-invalid', 'Patient.birthDate.extension[0].value.ofType(Quantity).comparator');
  });
});

describe('required bindings on CodeableConcept', () => {
  it('accepts a concept with one coding from the value set among others', () => {
    const cc = { coding: [{ system: 'http://example.org/local', code: 'A' }, { system: CLINICAL, code: 'active' }] };
    expect(validateResource(condition(cc))).toEqual([]);
  });

  it('rejects a wrong code from the bound system', () => {
    expectIssue(condition({ coding: [{ system: CLINICAL, code: 'bogus' }] }), 'code-invalid', 'Condition.clinicalStatus');
  });

  it('rejects a concept with text only', () => {
    const found = expectIssue(condition({ text: 'active' }), 'code-invalid', 'Condition.clinicalStatus');
    expect(found.diagnostics).toContain('text alone');
  });

  it('rejects a concept whose codings all come from other systems', () => {
    expectIssue(condition({ coding: [{ system: 'http://snomed.info/sct', code: '55561003' }] }), 'code-invalid', 'Condition.clinicalStatus');
  });
});

describe('required bindings on Coding', () => {
  // R4 has no base element with a required Coding binding; profiles add them, so test the rule directly.
  const binding = { strength: 'required' as const, valueSet: 'http://hl7.org/fhir/ValueSet/condition-clinical' };

  it('rejects a coding from the bound system with a code outside it', () => {
    expect(checkBoundValue(binding, 'Coding', { system: CLINICAL, code: 'bogus' })).toContain('bogus');
  });

  it('accepts a member coding and leaves codings of other systems alone', () => {
    expect(checkBoundValue(binding, 'Coding', { system: CLINICAL, code: 'remission' })).toBeUndefined();
    expect(checkBoundValue(binding, 'Coding', { system: 'http://example.org/other', code: 'x' })).toBeUndefined();
  });
});

describe('checkRequiredBindings with a profile schema', () => {
  function profileOfCarePlan(): StructureDefinition {
    const base = readResourceDefinition('CarePlan');
    if (!base?.snapshot) throw new Error('CarePlan definition missing');
    const elements = structuredClone(base.snapshot.element);
    const intent = elements.find((e) => e.path === 'CarePlan.intent') as ElementDefinition;
    // The profile narrows intent to the request-intent codes of a smaller value set...
    intent.binding = { strength: 'required', valueSet: 'http://hl7.org/fhir/ValueSet/immunization-status' };
    // ...and binds a datatype child, which snapshots express as a dotted element below CarePlan.subject.
    const at = elements.findIndex((e) => e.path === 'CarePlan.subject');
    elements.splice(at + 1, 0, {
      id: 'CarePlan.subject.type',
      path: 'CarePlan.subject.type',
      min: 0,
      max: '1',
      type: [{ code: 'uri' }],
      binding: { strength: 'required', valueSet: 'http://hl7.org/fhir/ValueSet/resource-types' },
    });
    return { ...base, url: 'http://example.org/StructureDefinition/test-careplan', derivation: 'constraint', snapshot: { element: elements } };
  }

  it('reports bindings the profile adds, including on datatype children', () => {
    const schema = parseStructureDefinition(profileOfCarePlan());
    const cp = { ...copy(carePlan), subject: { reference: 'Patient/pat-1', type: 'Pateint' } };
    const issues = checkRequiredBindings(cp, schema);
    expect(issues.map((i) => [i.code, i.severity, i.expression?.[0]])).toEqual([
      ['code-invalid', 'error', 'CarePlan.intent'],
      ['code-invalid', 'error', 'CarePlan.subject.type'],
    ]);
  });

  it('finds nothing for a conforming resource, and works with a base schema', () => {
    const schema = parseStructureDefinition(profileOfCarePlan());
    const cp = { ...copy(carePlan), intent: 'completed', subject: { reference: 'Patient/pat-1', type: 'Patient' } };
    expect(checkRequiredBindings(cp, schema)).toEqual([]);
    expect(checkRequiredBindings(copy(carePlan), getDataType('CarePlan'))).toEqual([]);
  });
});

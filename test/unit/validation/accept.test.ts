import { describe, expect, it } from 'vitest';
import { validateResource } from '../../../src/fhir/validation/index.js';
import { carePlan, careTeam, consent, copy, patient, serviceRequest } from './fixtures.js';

describe('validateResource: valid resources', () => {
  it.each([
    ['Patient', patient],
    ['CareTeam', careTeam],
    ['CarePlan', carePlan],
    ['ServiceRequest', serviceRequest],
    ['Consent', consent],
  ])('accepts a %s with nested elements', (_type, resource) => {
    expect(validateResource(resource)).toEqual([]);
  });

  it('accepts primitive arrays whose extensions use null placeholders', () => {
    const p = copy(patient);
    const name = { given: ['Ann', 'Marie'], _given: [null, { extension: [{ url: 'http://example.org/x', valueString: 'nick' }] }] };
    expect(validateResource({ ...p, name: [name] })).toEqual([]);
  });

  it('accepts false and 0, which are values and not empty', () => {
    expect(validateResource({ resourceType: 'Patient', active: false, multipleBirthInteger: 0 })).toEqual([]);
  });

  it('accepts codes from nested concepts of the bound CodeSystem', () => {
    const condition = {
      resourceType: 'Condition',
      subject: { reference: 'Patient/pat-1' },
      // 'relapse' sits under 'active' in the condition-clinical hierarchy.
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'relapse' }] },
    };
    expect(validateResource(condition)).toEqual([]);
  });

  it('accepts a contained resource referenced from the container', () => {
    expect(validateResource(patient)).toEqual([]);
    expect(patient.contained).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import { EXTENSION_URLS } from '../../../src/fhir/profiles/index.js';
import { carePlan } from './fixtures.js';
import { summary, validate } from './helpers.js';

describe('service-split-care-plan', () => {
  it('accepts a valid plan', () => {
    expect(validate(carePlan())).toEqual([]);
  });

  it('requires the comprehensive category', () => {
    const plan = carePlan();
    plan.category = [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category', code: 'assess-plan' }] }];
    expect(summary(validate(plan))).toEqual(['required CarePlan.category']);
    delete plan.category;
    expect(summary(validate(plan))).toEqual(['required CarePlan.category']);
  });

  it('requires careTeam', () => {
    const plan = carePlan();
    delete plan.careTeam;
    expect(summary(validate(plan))).toEqual(['required CarePlan.careTeam']);
  });

  it('requires asa-appendix, once, coded A or B', () => {
    const plan = carePlan();
    plan.extension = plan.extension?.filter((e) => e.url !== EXTENSION_URLS.asaAppendix);
    expect(summary(validate(plan))).toEqual(['required CarePlan.extension']);

    const wrong = carePlan();
    const appendix = wrong.extension?.[0];
    if (appendix) appendix.valueCoding = { system: 'https://concord-fhir.org/fhir/CodeSystem/asa-appendix', code: 'C' };
    expect(summary(validate(wrong))).toEqual(['code-invalid CarePlan.extension[0].valueCoding']);
  });

  it('requires at least two asa-parties, each an Organization', () => {
    const plan = carePlan();
    plan.extension = plan.extension?.slice(0, 2);
    expect(summary(validate(plan))).toEqual(['required CarePlan.extension']);

    const wrong = carePlan();
    const party = wrong.extension?.[2];
    if (party) party.valueReference = { reference: 'Patient/member-1' };
    expect(summary(validate(wrong))).toEqual(['structure CarePlan.extension[2].valueReference']);
  });

  it('requires service-split on every activity', () => {
    const plan = carePlan();
    const activity = plan.activity?.[1];
    if (activity) delete activity.extension;
    expect(summary(validate(plan))).toEqual(['required CarePlan.activity[1].extension']);
  });

  it.each(['service', 'benefit', 'responsibleParty'])('service-split requires %s', (part) => {
    const plan = carePlan();
    const ext = plan.activity?.[0]?.extension?.[0];
    if (ext) ext.extension = ext.extension?.filter((e) => e.url !== part);
    expect(summary(validate(plan))).toEqual(['required CarePlan.activity[0].extension[0].extension']);
  });

  it('service-split: HCPCS/CPT service, benefit-split code, Organization party', () => {
    const plan = carePlan();
    const parts = plan.activity?.[0]?.extension?.[0]?.extension ?? [];
    parts[0] = { url: 'service', valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '1234' }] } };
    parts[1] = { url: 'benefit', valueCoding: { system: 'https://concord-fhir.org/fhir/CodeSystem/benefit-split', code: 'maybe' } };
    parts[2] = { url: 'responsibleParty', valueReference: { reference: 'Practitioner/x' } };
    const issues = validate(plan);
    expect(summary(issues)).toEqual([
      'invariant CarePlan.activity[0].extension[0].extension[0].valueCodeableConcept',
      'code-invalid CarePlan.activity[0].extension[0].extension[1].valueCoding',
      'structure CarePlan.activity[0].extension[0].extension[2].valueReference',
    ]);
    expect(issues[0]?.diagnostics).toContain('ssp-1');
  });

  it('accepts CPT services', () => {
    const plan = carePlan();
    const parts = plan.activity?.[0]?.extension?.[0]?.extension ?? [];
    parts[0] = { url: 'service', valueCodeableConcept: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '99490' }] } };
    expect(validate(plan)).toEqual([]);
  });
});

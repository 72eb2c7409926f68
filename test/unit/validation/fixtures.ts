// Valid R4 resources used as the base of accept and reject cases; tests clone and break them.
import type { CarePlan, CareTeam, Consent, Patient, ServiceRequest } from '@medplum/fhirtypes';

// medplum's Patient type has no `_birthDate`; the JSON form with primitive extensions is what the server receives.
export const patient: Patient = {
  resourceType: 'Patient',
  id: 'pat-1',
  meta: { lastUpdated: '2024-05-01T10:00:00Z', profile: ['http://example.org/StructureDefinition/member'] },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Ann Lee</div>' },
  identifier: [{ use: 'official', system: 'urn:oid:2.16.840.1.113883.4.1', value: '123-45-6789' }],
  active: true,
  name: [{ use: 'official', family: 'Lee', given: ['Ann', 'Marie'] }],
  telecom: [{ system: 'phone', value: '555-0100', use: 'home' }],
  gender: 'female',
  birthDate: '1950-02-03',
  // @ts-expect-error primitive extension, valid FHIR JSON but absent from @medplum/fhirtypes
  _birthDate: { extension: [{ url: 'http://example.org/fhir/StructureDefinition/estimated', valueBoolean: false }] },
  address: [{ use: 'home', line: ['1 Main St'], city: 'Springfield', state: 'IL', postalCode: '62701' }],
  maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'W' }] },
  contact: [{ relationship: [{ text: 'daughter' }], name: { family: 'Lee', given: ['Beth'] }, gender: 'female' }],
  communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en-US' }] }, preferred: true }],
  managingOrganization: { reference: '#org' },
  contained: [{ resourceType: 'Organization', id: 'org', name: 'Springfield MLTSS Plan' }],
};

export const careTeam: CareTeam = {
  resourceType: 'CareTeam',
  status: 'active',
  category: [{ coding: [{ system: 'http://loinc.org', code: 'LA27976-2' }] }],
  name: 'Ann Lee LTSS team',
  subject: { reference: 'Patient/pat-1' },
  period: { start: '2024-01-01' },
  participant: [
    {
      role: [{ text: 'Care coordinator' }],
      member: { reference: 'Practitioner/prac-1', display: 'Dana Cole' },
      period: { start: '2024-01-01' },
    },
    { role: [{ text: 'Caregiver' }], member: { reference: 'RelatedPerson/rp-1' } },
  ],
  managingOrganization: [{ reference: 'Organization/org-1' }],
  telecom: [{ system: 'email', value: 'team@example.org' }],
};

// About thirty elements: the "typical CarePlan" of the timing measurement in the report.
export const carePlan: CarePlan = {
  resourceType: 'CarePlan',
  id: 'cp-1',
  identifier: [{ system: 'http://example.org/careplans', value: 'CP-0001' }],
  status: 'active',
  intent: 'plan',
  category: [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category', code: 'assess-plan' }] }],
  title: 'LTSS person-centered service plan',
  description: 'Home and community based services plan',
  subject: { reference: 'Patient/pat-1' },
  period: { start: '2024-01-01', end: '2024-12-31' },
  created: '2024-01-02T09:30:00-05:00',
  author: { reference: 'Practitioner/prac-1' },
  careTeam: [{ reference: 'CareTeam/ct-1' }],
  addresses: [{ reference: 'Condition/cond-1' }],
  goal: [{ reference: 'Goal/goal-1' }],
  activity: [
    {
      outcomeCodeableConcept: [{ text: 'Attended' }],
      progress: [{ time: '2024-02-01', text: 'Going well' }],
      detail: {
        kind: 'ServiceRequest',
        code: { coding: [{ system: 'http://snomed.info/sct', code: '385763009' }], text: 'Personal care' },
        status: 'in-progress',
        doNotPerform: false,
        scheduledTiming: { repeat: { frequency: 3, period: 1, periodUnit: 'wk' } },
        performer: [{ reference: 'Organization/org-2' }],
        description: 'Three visits a week',
      },
    },
    { reference: { reference: 'ServiceRequest/sr-1' } },
  ],
  note: [{ text: 'Reviewed with member', time: '2024-01-02T10:00:00Z' }],
};

export const serviceRequest: ServiceRequest = {
  resourceType: 'ServiceRequest',
  status: 'active',
  intent: 'order',
  priority: 'routine',
  code: { coding: [{ system: 'http://snomed.info/sct', code: '385763009' }] },
  quantityQuantity: { value: 12, unit: 'visits' },
  subject: { reference: 'Patient/pat-1' },
  occurrencePeriod: { start: '2024-01-01', end: '2024-03-31' },
  authoredOn: '2024-01-01T08:00:00Z',
  requester: { reference: 'Practitioner/prac-1' },
  performer: [{ reference: 'Organization/org-2' }],
  reasonReference: [{ reference: 'Condition/cond-1' }],
  basedOn: [{ reference: 'CarePlan/cp-1' }],
};

export const consent: Consent = {
  resourceType: 'Consent',
  status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: { reference: 'Patient/pat-1' },
  dateTime: '2024-01-01T12:00:00Z',
  policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
  provision: {
    type: 'permit',
    period: { start: '2024-01-01' },
    actor: [
      {
        role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
        reference: { reference: 'Organization/org-2' },
      },
    ],
    provision: [{ type: 'deny', class: [{ system: 'http://hl7.org/fhir/resource-types', code: 'Observation' }] }],
  },
};

/** A deep copy to break in a test without touching the shared fixture. */
export function copy<T>(value: T): T {
  return structuredClone(value);
}

// Valid examples of each Concord profile; tests break one constraint at a time on a fresh copy.
import type { CarePlan, CareTeam, Consent, ServiceRequest } from '@medplum/fhirtypes';
import { CODE_SYSTEM_URLS, EXTENSION_URLS, EXTERNAL_SYSTEM_URLS, PROFILE_URLS } from '../../../src/fhir/profiles/index.js';

export function careTeam(): CareTeam {
  return {
    resourceType: 'CareTeam',
    meta: { profile: [PROFILE_URLS.coordinationCareTeam] },
    status: 'active',
    subject: { reference: 'Patient/member-1' },
    participant: [
      {
        extension: [
          { url: EXTENSION_URLS.coordinationScope, valueCoding: { system: CODE_SYSTEM_URLS.coordinationScope, code: 'ltc' } },
          {
            url: EXTENSION_URLS.leadDesignation,
            extension: [
              { url: 'designatedBy', valueReference: { reference: 'Organization/mltcp' } },
              { url: 'designatedBy', valueReference: { reference: 'Organization/hh' } },
              { url: 'basis', valueReference: { reference: 'QuestionnaireResponse/cpc-form' } },
              { url: 'reason', valueString: 'Primary needs are long term care' },
              { url: 'date', valueDate: '2026-01-15' },
            ],
          },
        ],
        role: [{ coding: [{ system: CODE_SYSTEM_URLS.careTeamRole, code: 'lead-care-manager' }] }],
        member: { reference: 'Practitioner/cm-1' },
        onBehalfOf: { reference: 'Organization/mltcp' },
        period: { start: '2026-01-15' },
      },
      {
        extension: [
          { url: EXTENSION_URLS.coordinationScope, valueCoding: { system: CODE_SYSTEM_URLS.coordinationScope, code: 'bh-and-out-of-plan' } },
        ],
        member: { reference: 'Practitioner/hh-cm' },
        onBehalfOf: { reference: 'Organization/hh' },
        period: { start: '2026-01-15', end: '2026-12-31' },
      },
    ],
  };
}

function split(code: string, benefit: string, party: string): CarePlan['activity'] {
  return [
    {
      extension: [
        {
          url: EXTENSION_URLS.serviceSplit,
          extension: [
            { url: 'service', valueCodeableConcept: { coding: [{ system: EXTERNAL_SYSTEM_URLS.hcpcs, code }] } },
            { url: 'benefit', valueCoding: { system: CODE_SYSTEM_URLS.benefitSplit, code: benefit } },
            { url: 'responsibleParty', valueReference: { reference: party } },
          ],
        },
      ],
      detail: { status: 'scheduled', code: { coding: [{ system: EXTERNAL_SYSTEM_URLS.hcpcs, code }] } },
    },
  ];
}

export function carePlan(): CarePlan {
  return {
    resourceType: 'CarePlan',
    meta: { profile: [PROFILE_URLS.serviceSplitCarePlan] },
    extension: [
      { url: EXTENSION_URLS.asaAppendix, valueCoding: { system: CODE_SYSTEM_URLS.asaAppendix, code: 'A' } },
      { url: EXTENSION_URLS.asaParties, valueReference: { reference: 'Organization/mltcp' } },
      { url: EXTENSION_URLS.asaParties, valueReference: { reference: 'Organization/hh' } },
    ],
    status: 'active',
    intent: 'plan',
    category: [{ coding: [{ system: CODE_SYSTEM_URLS.carePlanCategory, code: 'comprehensive', display: 'Comprehensive plan of care' }] }],
    subject: { reference: 'Patient/member-1' },
    period: { start: '2026-01-15' },
    careTeam: [{ reference: 'CareTeam/team-1' }],
    activity: [...(split('T1019', 'in-plan', 'Organization/mltcp') ?? []), ...(split('T1016', 'out-of-plan', 'Organization/hh') ?? [])],
  };
}

export function serviceRequest(): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    meta: { profile: [PROFILE_URLS.coordinatedServiceRequest] },
    basedOn: [{ reference: 'CarePlan/plan-1' }],
    status: 'active',
    intent: 'order',
    category: [{ coding: [{ system: CODE_SYSTEM_URLS.serviceCategory, code: 'state-plan-ltss' }] }],
    code: { coding: [{ system: EXTERNAL_SYSTEM_URLS.hcpcs, code: 'T1019' }] },
    subject: { reference: 'Patient/member-1' },
    occurrencePeriod: { start: '2026-02-01', end: '2026-07-31' },
    requester: { reference: 'PractitionerRole/cm-1' },
  };
}

const consentScope = (code: string): Consent['scope'] => ({ coding: [{ system: EXTERNAL_SYSTEM_URLS.consentScope, code }] });

export function sharingConsent(): Consent {
  return {
    resourceType: 'Consent',
    meta: { profile: [PROFILE_URLS.coordinationConsent] },
    status: 'active',
    scope: consentScope('patient-privacy'),
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/member-1' },
    policyRule: { coding: [{ system: EXTERNAL_SYSTEM_URLS.v3ActCode, code: 'OPTIN' }] },
    provision: {
      type: 'permit',
      actor: [
        { role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { reference: 'Organization/hh' } },
      ],
    },
  };
}

export function optOutConsent(): Consent {
  return {
    resourceType: 'Consent',
    meta: { profile: [PROFILE_URLS.coordinationConsent] },
    status: 'active',
    scope: consentScope('treatment'),
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/member-1' },
    policyRule: { coding: [{ system: EXTERNAL_SYSTEM_URLS.v3ActCode, code: 'OPTOUT' }] },
    provision: {
      type: 'deny',
      period: { start: '2026-03-01' },
      actor: [
        { role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PRCP' }] }, reference: { reference: 'Organization/ltss-cp' } },
      ],
    },
  };
}

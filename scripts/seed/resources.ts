// Resource shapes shared by the scenarios: directory entries (organizations, people, roles), members
// and their enrolments, care teams, plans, requests and consents, claiming the Concord profiles where
// the contract defines them.
import type {
  Address,
  CarePlan,
  CarePlanActivity,
  CareTeam,
  CareTeamParticipant,
  CodeableConcept,
  Consent,
  DocumentReference,
  EpisodeOfCare,
  Extension,
  Organization,
  Patient,
  Period,
  Practitioner,
  PractitionerRole,
  Ratio,
  Reference,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { EXTERNAL_SYSTEM_URLS, PROFILE_URLS } from '../../src/fhir/profiles/urls.js';
import {
  LOINC,
  NPI_SYSTEM,
  V2_0203,
  asaAppendix,
  asaParty,
  comprehensiveCategory,
  concept,
  leadCareManagerRole,
  leadDesignation,
  npi,
  orgRole,
  scopeExtension,
  serviceCategory,
  serviceSplit,
} from './fhir.js';

export function address(line: string, city: string, state: string, postalCode: string): Address {
  return { use: 'work', line: [line], city, state, postalCode, country: 'US' };
}

export function organization(opts: {
  name: string;
  role: [code: string, display: string];
  npiBase: string;
  address: Address;
  phone: string;
  alias?: string[];
}): Organization {
  return {
    resourceType: 'Organization',
    active: true,
    identifier: [{ system: NPI_SYSTEM, value: npi(opts.npiBase) }],
    type: [orgRole(...opts.role)],
    name: opts.name,
    ...(opts.alias ? { alias: opts.alias } : {}),
    telecom: [{ system: 'phone', value: opts.phone, use: 'work' }],
    address: [opts.address],
  };
}

export interface Qualification {
  code: CodeableConcept;
  period?: Period;
  issuer?: string;
}

export function practitioner(opts: {
  given: string;
  family: string;
  suffix?: string;
  gender: 'female' | 'male';
  npiBase: string;
  phone: string;
  qualifications: Qualification[];
}): Practitioner {
  return {
    resourceType: 'Practitioner',
    active: true,
    identifier: [{ system: NPI_SYSTEM, value: npi(opts.npiBase) }],
    name: [{ use: 'official', family: opts.family, given: [opts.given], ...(opts.suffix ? { suffix: [opts.suffix] } : {}) }],
    gender: opts.gender,
    telecom: [{ system: 'phone', value: opts.phone, use: 'work' }],
    qualification: opts.qualifications.map((q) => ({
      code: q.code,
      ...(q.period ? { period: q.period } : {}),
      ...(q.issuer ? { issuer: { display: q.issuer } } : {}),
    })),
  };
}

export function practitionerRole(opts: { practitioner: Reference<Practitioner>; organization: Reference<Organization>; title: string; start: string }): PractitionerRole {
  return {
    resourceType: 'PractitionerRole',
    active: true,
    period: { start: opts.start },
    practitioner: opts.practitioner,
    organization: opts.organization,
    code: [{ text: opts.title }],
  };
}

export function patient(opts: {
  given: string;
  family: string;
  gender: 'female' | 'male';
  birthDate: string;
  medicaidId: { system: string; value: string };
  address: Address;
  phone: string;
  language?: [code: string, display: string];
}): Patient {
  return {
    resourceType: 'Patient',
    active: true,
    identifier: [
      {
        use: 'official',
        type: concept(V2_0203, 'MA', 'Patient Medicaid number'),
        system: opts.medicaidId.system,
        value: opts.medicaidId.value,
      },
    ],
    name: [{ use: 'official', family: opts.family, given: [opts.given] }],
    gender: opts.gender,
    birthDate: opts.birthDate,
    telecom: [{ system: 'phone', value: opts.phone, use: 'home' }],
    address: [{ ...opts.address, use: 'home' }],
    ...(opts.language
      ? { communication: [{ language: concept('urn:ietf:bcp:47', ...opts.language), preferred: true }] }
      : {}),
  };
}

/** A program enrolment (contract: status, type from `program`, patient, managingOrganization, period). */
export function enrolment(opts: {
  patient: Reference<Patient>;
  program: CodeableConcept;
  managingOrganization: Reference<Organization>;
  period: Period;
  status?: EpisodeOfCare['status'];
  careManager?: Reference<Practitioner | PractitionerRole>;
}): EpisodeOfCare {
  return {
    resourceType: 'EpisodeOfCare',
    status: opts.status ?? 'active',
    type: [opts.program],
    patient: opts.patient,
    managingOrganization: opts.managingOrganization,
    period: opts.period,
    ...(opts.careManager ? { careManager: opts.careManager } : {}),
  };
}

export interface ParticipantSpec {
  member: Reference<Practitioner | PractitionerRole>;
  /** Only beside a Practitioner member (R4 ctm-1): a PractitionerRole member acts for its organization. */
  onBehalfOf?: Reference<Organization>;
  start: string;
  end?: string;
  role?: CodeableConcept[];
  scopes?: string[];
  lead?: Parameters<typeof leadDesignation>[0];
}

export function participant(p: ParticipantSpec): CareTeamParticipant {
  const extension: Extension[] = [];
  if (p.lead) extension.push(leadDesignation(p.lead));
  for (const s of p.scopes ?? []) extension.push(scopeExtension(s));
  const role = [...(p.lead ? [leadCareManagerRole()] : []), ...(p.role ?? [])];
  return {
    ...(extension.length ? { extension } : {}),
    ...(role.length ? { role } : {}),
    member: p.member,
    ...(p.onBehalfOf ? { onBehalfOf: p.onBehalfOf } : {}),
    period: { start: p.start, ...(p.end ? { end: p.end } : {}) },
  };
}

export function careTeam(opts: {
  name: string;
  subject: Reference<Patient>;
  managingOrganization: Reference<Organization>;
  start: string;
  participants: ParticipantSpec[];
  reason?: string;
}): CareTeam {
  return {
    resourceType: 'CareTeam',
    meta: { profile: [PROFILE_URLS.coordinationCareTeam] },
    status: 'active',
    category: [concept(LOINC, 'LA28865-6', 'Longitudinal care-coordination focused care team')],
    name: opts.name,
    subject: opts.subject,
    period: { start: opts.start },
    participant: opts.participants.map(participant),
    managingOrganization: [opts.managingOrganization],
    ...(opts.reason ? { reasonCode: [{ text: opts.reason }] } : {}),
  };
}

export interface SplitActivity {
  service: CodeableConcept;
  benefit: 'in-plan' | 'out-of-plan';
  responsibleParty: Reference<Organization>;
  description: string;
}

/** A service-split-care-plan: the ASA appendix, its parties and the in-plan / out-of-plan services. */
export function serviceSplitPlan(opts: {
  title: string;
  appendix: 'A' | 'B';
  parties: Reference<Organization>[];
  subject: Reference<Patient>;
  start: string;
  author: Reference<Practitioner | PractitionerRole | Organization>;
  careTeams: Reference<CareTeam>[];
  description: string;
  activities: SplitActivity[];
}): CarePlan {
  return {
    resourceType: 'CarePlan',
    meta: { profile: [PROFILE_URLS.serviceSplitCarePlan] },
    extension: [asaAppendix(opts.appendix), ...opts.parties.map(asaParty)],
    status: 'active',
    intent: 'plan',
    category: [comprehensiveCategory()],
    title: opts.title,
    description: opts.description,
    subject: opts.subject,
    period: { start: opts.start },
    created: opts.start,
    author: opts.author,
    careTeam: opts.careTeams,
    activity: opts.activities.map(
      (a): CarePlanActivity => ({
        extension: [serviceSplit(a.service, a.benefit, a.responsibleParty)],
        detail: {
          kind: 'ServiceRequest',
          code: a.service,
          status: 'in-progress',
          description: a.description,
          performer: [a.responsibleParty],
        },
      }),
    ),
  };
}

export const perWeek = (value: number, unit: string, ucum: string): Ratio => ({
  numerator: { value, unit, system: 'http://unitsofmeasure.org', code: ucum },
  denominator: { value: 1, unit: 'week', system: 'http://unitsofmeasure.org', code: 'wk' },
});

export function serviceRequest(opts: {
  subject: Reference<Patient>;
  code: CodeableConcept;
  category: string;
  requester: Reference<Practitioner | PractitionerRole | Organization>;
  occurrencePeriod: Period;
  authoredOn: string;
  intent?: ServiceRequest['intent'];
  basedOn?: Reference<CarePlan | ServiceRequest>[];
  quantityRatio?: Ratio;
  performer?: Reference<Organization | Practitioner | PractitionerRole>[];
  reason?: string;
  note?: string;
}): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    meta: { profile: [PROFILE_URLS.coordinatedServiceRequest] },
    status: 'active',
    intent: opts.intent ?? 'order',
    category: [serviceCategory(opts.category)],
    code: opts.code,
    subject: opts.subject,
    occurrencePeriod: opts.occurrencePeriod,
    authoredOn: opts.authoredOn,
    requester: opts.requester,
    ...(opts.basedOn ? { basedOn: opts.basedOn } : {}),
    ...(opts.quantityRatio ? { quantityRatio: opts.quantityRatio } : {}),
    ...(opts.performer ? { performer: opts.performer } : {}),
    ...(opts.reason ? { reasonCode: [{ text: opts.reason }] } : {}),
    ...(opts.note ? { note: [{ text: opts.note }] } : {}),
  };
}

/** A document standing for a coordination form (the lead's `basis`), with a short text body. */
export function formDocument(opts: {
  subject: Reference<Patient>;
  title: string;
  type: CodeableConcept;
  date: string;
  author: Reference<Practitioner | PractitionerRole>;
  custodian: Reference<Organization>;
  text: string;
}): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'final',
    type: opts.type,
    category: [concept('http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', 'clinical-note', 'Clinical Note')],
    subject: opts.subject,
    date: `${opts.date}T12:00:00Z`,
    author: [opts.author],
    custodian: opts.custodian,
    description: opts.title,
    content: [
      {
        attachment: {
          contentType: 'text/plain',
          language: 'en-US',
          title: opts.title,
          creation: opts.date,
          data: Buffer.from(opts.text, 'utf8').toString('base64'),
        },
      },
    ],
  };
}

const CONSENT_CATEGORY = concept(LOINC, '59284-0', 'Patient Consent');
const RELEASE_CATEGORY = concept(LOINC, '64292-6', 'Release of information consent');
const IRCP = concept('http://terminology.hl7.org/CodeSystem/v3-ParticipationType', 'IRCP', 'information recipient');

/** Data-sharing consent: the organizations allowed to see the member's coordination record. */
export function dataSharingConsent(opts: { patient: Reference<Patient>; date: string; organization: Reference<Organization>; actors: Reference<Organization>[] }): Consent {
  return {
    resourceType: 'Consent',
    meta: { profile: [PROFILE_URLS.coordinationConsent] },
    status: 'active',
    scope: concept(EXTERNAL_SYSTEM_URLS.consentScope, 'patient-privacy', 'Privacy Consent'),
    category: [RELEASE_CATEGORY],
    patient: opts.patient,
    dateTime: opts.date,
    performer: [opts.patient],
    organization: [opts.organization],
    policyRule: concept(EXTERNAL_SYSTEM_URLS.v3ActCode, 'OPTIN', 'opt-in'),
    provision: {
      type: 'permit',
      period: { start: opts.date },
      actor: opts.actors.map((reference) => ({ role: IRCP, reference })),
      action: [concept('http://terminology.hl7.org/CodeSystem/consentaction', 'access', 'Access')],
    },
  };
}

/** Program opt-out: the member declines the organization's supports from `start`. */
export function optOutConsent(opts: { patient: Reference<Patient>; start: string; organization: Reference<Organization>; from: Reference<Organization>; note: string }): Consent {
  return {
    resourceType: 'Consent',
    meta: { profile: [PROFILE_URLS.coordinationConsent] },
    status: 'active',
    scope: concept(EXTERNAL_SYSTEM_URLS.consentScope, 'treatment', 'Treatment'),
    category: [CONSENT_CATEGORY],
    patient: opts.patient,
    dateTime: opts.start,
    performer: [opts.patient],
    organization: [opts.organization],
    policyRule: { ...concept(EXTERNAL_SYSTEM_URLS.v3ActCode, 'OPTOUT', 'opt-out'), text: opts.note },
    provision: {
      type: 'deny',
      period: { start: opts.start },
      actor: [{ role: concept('http://terminology.hl7.org/CodeSystem/v3-RoleClass', 'PROV', 'healthcare provider'), reference: opts.from }],
    },
  };
}

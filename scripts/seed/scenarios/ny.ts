// New York: MLTC Partial Capitation (MLTCP) and Medicaid Advantage Plus (MAP) plans, each working with
// a Health Home under the Statewide Administrative Health Home Services Agreement (ASA).
//
// Source: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes": the MLTCP coordinates long term care, the Health Home behavioral health and
// services outside the MLTC benefit package; the in-plan / out-of-plan split is Appendix A (MLTCP) or
// Appendix B (MAP) to the ASA; both parties jointly choose one lead care manager per member and document it
// on the client-level Care Planning and Coordination form; MAP and Health Home keep a single comprehensive
// plan of care (behavioral health is in the MAP benefit since 1 January 2023).
//
// Bundles: 1. directory (plans, Health Homes, a licensed home care agency, care managers, the form)
//          2. Carmen Rivera: MLTCP + Health Home, plan care manager is lead, Appendix A
//          3. James Washington: MAP + Health Home, Health Home care manager is lead, Appendix B
import type { Organization, Patient, Practitioner, PractitionerRole, Questionnaire, QuestionnaireResponse, Reference } from '@medplum/fhirtypes';
import type { SeedBundle } from '../fhir.js';
import { ScenarioBuilder, hcpcs, nucc, program, seedUrl } from '../fhir.js';
import {
  address,
  careTeam,
  enrolment,
  organization,
  patient,
  perWeek,
  practitioner,
  practitionerRole,
  serviceRequest,
  serviceSplitPlan,
} from '../resources.js';

const CPC_FORM_URL = seedUrl('Questionnaire/ny-care-planning-and-coordination');
const NY_CIN = seedUrl('sid/ny-medicaid-cin');

const SERVICES = {
  personalCare: hcpcs('T1019', 'Personal care services, per 15 minutes'),
  adultDay: hcpcs('S5100', 'Day care services, adult; per 15 minutes'),
  meals: hcpcs('S5170', 'Home delivered meals, including preparation; per meal'),
  pers: hcpcs('S5161', 'Emergency response system; service fee, per month'),
  bhCounseling: hcpcs('H0004', 'Behavioral health counseling and therapy, per 15 minutes'),
  peerSupport: hcpcs('H0038', 'Self-help/peer services, per 15 minutes'),
  supportedHousing: hcpcs('H0043', 'Supported housing, per diem'),
};

function cpcQuestionnaire(): Questionnaire {
  return {
    resourceType: 'Questionnaire',
    url: CPC_FORM_URL,
    version: '2023-01',
    name: 'CarePlanningAndCoordination',
    title: 'Care Planning and Coordination form (MLTCP/MAP and Health Home)',
    status: 'active',
    subjectType: ['Patient'],
    publisher: 'Concord seed data, after NYS DOH MLTC / Health Home guidance',
    purpose: 'Client-level record of the collaborative approach to care coordination, including the jointly chosen lead care manager.',
    item: [
      { linkId: 'plan', text: 'MLTCP / MAP plan', type: 'reference', required: true },
      { linkId: 'health-home', text: 'Health Home', type: 'reference', required: true },
      { linkId: 'appendix', text: 'ASA appendix (A = MLTCP, B = MAP)', type: 'choice', required: true, answerOption: [{ valueString: 'A' }, { valueString: 'B' }] },
      { linkId: 'primary-needs', text: 'Primary needs of the client', type: 'text', required: true },
      { linkId: 'lead-care-manager', text: 'Lead care manager', type: 'reference', required: true },
      { linkId: 'plan-agrees', text: 'Plan agrees with the lead designation', type: 'boolean', required: true },
      { linkId: 'hh-agrees', text: 'Health Home agrees with the lead designation', type: 'boolean', required: true },
      { linkId: 'meeting-schedule', text: 'Liaison meeting schedule', type: 'string' },
    ],
  };
}

function cpcResponse(opts: {
  subject: Reference<Patient>;
  plan: Reference<Organization>;
  healthHome: Reference<Organization>;
  appendix: 'A' | 'B';
  needs: string;
  lead: Reference<Practitioner | PractitionerRole>;
  author: Reference<Practitioner | PractitionerRole>;
  authored: string;
  meetings: string;
}): QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    questionnaire: `${CPC_FORM_URL}|2023-01`,
    status: 'completed',
    subject: opts.subject,
    authored: `${opts.authored}T15:30:00-05:00`,
    author: opts.author,
    item: [
      { linkId: 'plan', answer: [{ valueReference: opts.plan }] },
      { linkId: 'health-home', answer: [{ valueReference: opts.healthHome }] },
      { linkId: 'appendix', answer: [{ valueString: opts.appendix }] },
      { linkId: 'primary-needs', answer: [{ valueString: opts.needs }] },
      { linkId: 'lead-care-manager', answer: [{ valueReference: opts.lead }] },
      { linkId: 'plan-agrees', answer: [{ valueBoolean: true }] },
      { linkId: 'hh-agrees', answer: [{ valueBoolean: true }] },
      { linkId: 'meeting-schedule', answer: [{ valueString: opts.meetings }] },
    ],
  };
}

export function nyScenario(): SeedBundle[] {
  const b = new ScenarioBuilder('ny');

  // ---- 1. directory ---------------------------------------------------------------------------------
  b.bundle('directory: plans, Health Homes, care managers, Care Planning and Coordination form');
  const mltcp = b.add(
    'ny-org-mltcp',
    organization({
      name: 'Hudson River Senior Care MLTC Plan',
      role: ['mltcp-plan', 'MLTC partial capitation plan'],
      npiBase: '154812093',
      address: address('500 Grand Concourse, Suite 400', 'Bronx', 'NY', '10451'),
      phone: '+1-718-555-0140',
      alias: ['HRSC MLTC'],
    }),
    'Hudson River Senior Care MLTC Plan',
  );
  const map = b.add(
    'ny-org-map',
    organization({
      name: 'Empire Harbor Medicaid Advantage Plus',
      role: ['map-plan', 'Medicaid Advantage Plus plan'],
      npiBase: '162947731',
      address: address('1 MetroTech Center, 12th Floor', 'Brooklyn', 'NY', '11201'),
      phone: '+1-718-555-0188',
    }),
    'Empire Harbor Medicaid Advantage Plus',
  );
  const hhBronx = b.add(
    'ny-org-hh-bronx',
    organization({
      name: 'Bronx Community Partners Health Home',
      role: ['health-home', 'Health Home'],
      npiBase: '137760482',
      address: address('2910 Third Avenue', 'Bronx', 'NY', '10455'),
      phone: '+1-718-555-0123',
    }),
    'Bronx Community Partners Health Home',
  );
  const hhBrooklyn = b.add(
    'ny-org-hh-brooklyn',
    organization({
      name: 'Kings County Care Coordination Health Home',
      role: ['health-home', 'Health Home'],
      npiBase: '189305562',
      address: address('345 Atlantic Avenue', 'Brooklyn', 'NY', '11217'),
      phone: '+1-718-555-0177',
    }),
    'Kings County Care Coordination Health Home',
  );
  const lhcsa = b.add(
    'ny-org-lhcsa',
    organization({
      name: 'Riverdale Home Attendant Services (LHCSA)',
      role: ['ltss-provider', 'LTSS provider'],
      npiBase: '120448906',
      address: address('5700 Riverdale Avenue', 'Bronx', 'NY', '10471'),
      phone: '+1-718-555-0102',
    }),
    'Riverdale Home Attendant Services',
  );

  const alvarez = b.add(
    'ny-pract-alvarez',
    practitioner({
      given: 'Maria',
      family: 'Alvarez',
      suffix: 'RN',
      gender: 'female',
      npiBase: '145392817',
      phone: '+1-718-555-0141',
      qualifications: [{ code: nucc('163W00000X', 'Registered Nurse'), period: { start: '2008-06-15' }, issuer: 'NYS Education Department, Office of the Professions' }],
    }),
  );
  const okafor = b.add(
    'ny-pract-okafor',
    practitioner({
      given: 'Chidi',
      family: 'Okafor',
      suffix: 'LCSW',
      gender: 'male',
      npiBase: '158830264',
      phone: '+1-718-555-0124',
      qualifications: [{ code: nucc('1041C0700X', 'Clinical Social Worker'), period: { start: '2014-09-01' }, issuer: 'NYS Education Department, Office of the Professions' }],
    }),
  );
  const chen = b.add(
    'ny-pract-chen',
    practitioner({
      given: 'Grace',
      family: 'Chen',
      suffix: 'RN',
      gender: 'female',
      npiBase: '176621945',
      phone: '+1-718-555-0189',
      qualifications: [{ code: nucc('163W00000X', 'Registered Nurse'), period: { start: '2011-01-20' }, issuer: 'NYS Education Department, Office of the Professions' }],
    }),
  );
  const rosario = b.add(
    'ny-pract-rosario',
    practitioner({
      given: 'Luis',
      family: 'Rosario',
      suffix: 'LMSW',
      gender: 'male',
      npiBase: '193047718',
      phone: '+1-718-555-0178',
      qualifications: [{ code: nucc('104100000X', 'Social Worker'), period: { start: '2017-05-30' }, issuer: 'NYS Education Department, Office of the Professions' }],
    }),
  );
  const alvarezAtMltcp = b.add(
    'ny-role-alvarez-mltcp',
    practitionerRole({ practitioner: alvarez, organization: mltcp, title: 'MLTC care manager (RN)', start: '2019-03-01' }),
    'Maria Alvarez, RN (Hudson River Senior Care MLTC)',
  );
  const okaforAtHh = b.add(
    'ny-role-okafor-hh-bronx',
    practitionerRole({ practitioner: okafor, organization: hhBronx, title: 'Health Home care manager', start: '2018-07-09' }),
    'Chidi Okafor, LCSW (Bronx Community Partners Health Home)',
  );
  const chenAtMap = b.add(
    'ny-role-chen-map',
    practitionerRole({ practitioner: chen, organization: map, title: 'MAP care manager (RN)', start: '2021-02-01' }),
    'Grace Chen, RN (Empire Harbor MAP)',
  );
  const rosarioAtHh = b.add(
    'ny-role-rosario-hh-brooklyn',
    practitionerRole({ practitioner: rosario, organization: hhBrooklyn, title: 'Health Home care manager', start: '2020-10-13' }),
    'Luis Rosario, LMSW (Kings County Care Coordination Health Home)',
  );
  b.add('ny-q-cpc-form', cpcQuestionnaire());

  // ---- 2. MLTCP member (Appendix A), plan care manager is lead ----------------------------------------
  b.bundle('member Carmen Rivera: MLTCP + Health Home, Appendix A');
  const rivera = b.add(
    'ny-member-rivera',
    patient({
      given: 'Carmen',
      family: 'Rivera',
      gender: 'female',
      birthDate: '1944-03-12',
      medicaidId: { system: NY_CIN, value: 'AB12345C' },
      address: address('1460 Grand Concourse, Apt 6F', 'Bronx', 'NY', '10457'),
      phone: '+1-718-555-0311',
      language: ['es', 'Spanish'],
    }),
    'Carmen Rivera',
  );
  b.add('ny-eoc-rivera-hh', enrolment({ patient: rivera, program: program('ny-health-home', 'NY Health Home'), managingOrganization: hhBronx, period: { start: '2024-10-01' }, careManager: okaforAtHh }));
  b.add('ny-eoc-rivera-mltcp', enrolment({ patient: rivera, program: program('ny-mltcp', 'NY MLTC partial capitation'), managingOrganization: mltcp, period: { start: '2025-04-01' }, careManager: alvarezAtMltcp }));
  const riveraNeeds =
    'Primary needs are long term care: needs hands-on help with bathing, dressing and meal preparation after a stroke (left-sided weakness); lives alone. Depression is stable, treated at an OMH clinic.';
  const riveraForm = b.add(
    'ny-cpc-rivera',
    cpcResponse({
      subject: rivera,
      plan: mltcp,
      healthHome: hhBronx,
      appendix: 'A',
      needs: riveraNeeds,
      lead: alvarezAtMltcp,
      author: alvarezAtMltcp,
      authored: '2025-04-15',
      meetings: 'Monthly MLTC / Health Home liaison meeting, second Tuesday',
    }),
    'Care Planning and Coordination form, 2025-04-15',
  );
  const riveraMltcpTeam = b.add(
    'ny-team-rivera-mltcp',
    careTeam({
      name: 'Hudson River Senior Care MLTC care management team',
      subject: rivera,
      managingOrganization: mltcp,
      start: '2025-04-01',
      reason: 'Coordination of long term care services and supports (ASA primary role of the MLTCP)',
      participants: [
        {
          member: alvarezAtMltcp,
          start: '2025-04-15',
          scopes: ['ltc', 'care-transitions'],
          lead: { designatedBy: [mltcp, hhBronx], basis: riveraForm, reason: riveraNeeds, date: '2025-04-15' },
        },
      ],
    }),
    'MLTC care management team',
  );
  const riveraHhTeam = b.add(
    'ny-team-rivera-hh',
    careTeam({
      name: 'Bronx Community Partners Health Home care management team',
      subject: rivera,
      managingOrganization: hhBronx,
      start: '2024-10-01',
      reason: 'Coordination of behavioral health care and services outside the MLTC benefit package (ASA primary role of the Health Home)',
      participants: [{ member: okaforAtHh, start: '2024-10-01', scopes: ['bh-and-out-of-plan'] }],
    }),
    'Health Home care management team',
  );
  const riveraPlan = b.add(
    'ny-plan-rivera',
    serviceSplitPlan({
      title: 'Person-centered service plan with ASA Appendix A (MLTCP / Health Home)',
      description: 'In-plan long term care services are authorized and coordinated by the MLTCP; behavioral health and other services outside the MLTC benefit package are coordinated by the Health Home.',
      appendix: 'A',
      parties: [mltcp, hhBronx],
      subject: rivera,
      start: '2025-04-15',
      author: alvarezAtMltcp,
      careTeams: [riveraMltcpTeam, riveraHhTeam],
      activities: [
        { service: SERVICES.personalCare, benefit: 'in-plan', responsibleParty: mltcp, description: 'Personal care aide, 20 hours per week (bathing, dressing, meal preparation)' },
        { service: SERVICES.adultDay, benefit: 'in-plan', responsibleParty: mltcp, description: 'Social adult day program, 2 days per week' },
        { service: SERVICES.meals, benefit: 'in-plan', responsibleParty: mltcp, description: 'Home-delivered meals, 5 per week' },
        { service: SERVICES.pers, benefit: 'in-plan', responsibleParty: mltcp, description: 'Personal emergency response system' },
        { service: SERVICES.bhCounseling, benefit: 'out-of-plan', responsibleParty: hhBronx, description: 'Outpatient psychotherapy at an OMH-licensed clinic (fee-for-service)' },
        { service: SERVICES.peerSupport, benefit: 'out-of-plan', responsibleParty: hhBronx, description: 'Peer support for depression recovery' },
      ],
    }),
    'Service plan (Appendix A)',
  );
  const riveraAuth = { start: '2026-10-01', end: '2027-03-31' };
  b.add(
    'ny-sr-rivera-t1019',
    serviceRequest({
      subject: rivera,
      code: SERVICES.personalCare,
      category: 'community-ltss',
      requester: alvarezAtMltcp,
      occurrencePeriod: riveraAuth,
      authoredOn: '2026-09-24',
      basedOn: [riveraPlan],
      quantityRatio: perWeek(20, 'hours', 'h'),
      performer: [lhcsa],
      reason: 'Assistance with bathing, dressing and meal preparation (UAS-NY reassessment 2026-09-18)',
    }),
  );
  b.add(
    'ny-sr-rivera-s5100',
    serviceRequest({
      subject: rivera,
      code: SERVICES.adultDay,
      category: 'community-ltss',
      requester: alvarezAtMltcp,
      occurrencePeriod: riveraAuth,
      authoredOn: '2026-09-24',
      basedOn: [riveraPlan],
      quantityRatio: perWeek(2, 'days', 'd'),
      reason: 'Socialization and supervision; reduces isolation',
    }),
  );
  b.add(
    'ny-sr-rivera-s5170',
    serviceRequest({
      subject: rivera,
      code: SERVICES.meals,
      category: 'community-ltss',
      requester: alvarezAtMltcp,
      occurrencePeriod: riveraAuth,
      authoredOn: '2026-09-24',
      basedOn: [riveraPlan],
      quantityRatio: perWeek(5, 'meals', '{meal}'),
      reason: 'Unable to prepare hot meals safely',
    }),
  );
  b.add(
    'ny-sr-rivera-h0004',
    serviceRequest({
      subject: rivera,
      code: SERVICES.bhCounseling,
      category: 'behavioral-health',
      requester: okaforAtHh,
      occurrencePeriod: { start: '2026-07-01', end: '2026-12-31' },
      authoredOn: '2026-06-20',
      basedOn: [riveraPlan],
      reason: 'Major depressive disorder, recurrent, in partial remission',
      note: 'Referral to the OMH-licensed clinic; outside the MLTC benefit package.',
    }),
  );

  // ---- 3. MAP member (Appendix B), Health Home care manager is lead ----------------------------------
  b.bundle('member James Washington: MAP + Health Home, Appendix B');
  const washington = b.add(
    'ny-member-washington',
    patient({
      given: 'James',
      family: 'Washington',
      gender: 'male',
      birthDate: '1951-11-02',
      medicaidId: { system: NY_CIN, value: 'KT67890M' },
      address: address('210 Putnam Avenue, Apt 3R', 'Brooklyn', 'NY', '11216'),
      phone: '+1-347-555-0422',
    }),
    'James Washington',
  );
  b.add('ny-eoc-washington-hh', enrolment({ patient: washington, program: program('ny-health-home', 'NY Health Home'), managingOrganization: hhBrooklyn, period: { start: '2025-02-01' }, careManager: rosarioAtHh }));
  b.add('ny-eoc-washington-map', enrolment({ patient: washington, program: program('ny-map', 'NY Medicaid Advantage Plus'), managingOrganization: map, period: { start: '2025-09-01' }, careManager: chenAtMap }));
  const washingtonNeeds =
    'Primary needs are behavioral health: schizophrenia with a psychiatric admission in July 2025 and unstable housing; also needs help with bathing and housekeeping (COPD, limited endurance).';
  const washingtonForm = b.add(
    'ny-cpc-washington',
    cpcResponse({
      subject: washington,
      plan: map,
      healthHome: hhBrooklyn,
      appendix: 'B',
      needs: washingtonNeeds,
      lead: rosarioAtHh,
      author: rosarioAtHh,
      authored: '2025-09-10',
      meetings: 'Biweekly MAP / Health Home case conference',
    }),
    'Care Planning and Coordination form, 2025-09-10',
  );
  const washingtonMapTeam = b.add(
    'ny-team-washington-map',
    careTeam({
      name: 'Empire Harbor MAP care management team',
      subject: washington,
      managingOrganization: map,
      start: '2025-09-01',
      reason: 'Long term care and the single comprehensive plan of care (MAP)',
      participants: [{ member: chenAtMap, start: '2025-09-01', scopes: ['ltc', 'comprehensive', 'care-transitions'] }],
    }),
    'MAP care management team',
  );
  const washingtonHhTeam = b.add(
    'ny-team-washington-hh',
    careTeam({
      name: 'Kings County Care Coordination Health Home team',
      subject: washington,
      managingOrganization: hhBrooklyn,
      start: '2025-02-01',
      reason: 'Health Home care management: behavioral health and services outside the MAP benefit package',
      participants: [
        {
          member: rosarioAtHh,
          start: '2025-09-10',
          scopes: ['bh-and-out-of-plan'],
          lead: { designatedBy: [map, hhBrooklyn], basis: washingtonForm, reason: washingtonNeeds, date: '2025-09-10' },
        },
      ],
    }),
    'Health Home care management team',
  );
  const washingtonPlan = b.add(
    'ny-plan-washington',
    serviceSplitPlan({
      title: 'Single comprehensive plan of care with ASA Appendix B (MAP / Health Home)',
      description: 'Behavioral health is in the MAP benefit package since 1 January 2023; the Health Home coordinates housing and other services outside it.',
      appendix: 'B',
      parties: [map, hhBrooklyn],
      subject: washington,
      start: '2025-09-10',
      author: chenAtMap,
      careTeams: [washingtonMapTeam, washingtonHhTeam],
      activities: [
        { service: SERVICES.personalCare, benefit: 'in-plan', responsibleParty: map, description: 'Home care aide, 12 hours per week (bathing, housekeeping)' },
        { service: SERVICES.adultDay, benefit: 'in-plan', responsibleParty: map, description: 'Adult day health care, 1 day per week' },
        { service: SERVICES.meals, benefit: 'in-plan', responsibleParty: map, description: 'Home-delivered meals, 7 per week' },
        { service: SERVICES.bhCounseling, benefit: 'in-plan', responsibleParty: map, description: 'Outpatient psychotherapy (in the MAP benefit package)' },
        { service: SERVICES.supportedHousing, benefit: 'out-of-plan', responsibleParty: hhBrooklyn, description: 'OMH supported housing application and tenancy support' },
      ],
    }),
    'Comprehensive plan of care (Appendix B)',
  );
  const washingtonAuth = { start: '2026-09-01', end: '2027-02-28' };
  b.add(
    'ny-sr-washington-t1019',
    serviceRequest({
      subject: washington,
      code: SERVICES.personalCare,
      category: 'community-ltss',
      requester: chenAtMap,
      occurrencePeriod: washingtonAuth,
      authoredOn: '2026-08-27',
      basedOn: [washingtonPlan],
      quantityRatio: perWeek(12, 'hours', 'h'),
      performer: [lhcsa],
      reason: 'Needs help with bathing and housekeeping (COPD)',
    }),
  );
  b.add(
    'ny-sr-washington-s5170',
    serviceRequest({
      subject: washington,
      code: SERVICES.meals,
      category: 'community-ltss',
      requester: chenAtMap,
      occurrencePeriod: washingtonAuth,
      authoredOn: '2026-08-27',
      basedOn: [washingtonPlan],
      quantityRatio: perWeek(7, 'meals', '{meal}'),
    }),
  );
  b.add(
    'ny-sr-washington-h0004',
    serviceRequest({
      subject: washington,
      code: SERVICES.bhCounseling,
      category: 'behavioral-health',
      requester: chenAtMap,
      occurrencePeriod: washingtonAuth,
      authoredOn: '2026-08-27',
      basedOn: [washingtonPlan],
      reason: 'Schizophrenia; relapse prevention after the 2025 admission',
    }),
  );
  b.add(
    'ny-sr-washington-h0043',
    serviceRequest({
      subject: washington,
      code: SERVICES.supportedHousing,
      category: 'behavioral-health',
      requester: rosarioAtHh,
      occurrencePeriod: { start: '2026-10-15', end: '2027-10-14' },
      authoredOn: '2026-10-08',
      basedOn: [washingtonPlan],
      reason: 'Unstable housing; at risk of shelter placement',
      note: 'OMH supported housing referral (outside the MAP benefit package).',
    }),
  );

  return b.build();
}

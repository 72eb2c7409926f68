// Massachusetts: a MassHealth ACO with an LTSS Community Partner, an HCBS waiver case manager (ASAP) and
// the LTSS Third Party Administrator.
//
// Source: MassHealth "Care Coordination Guidance" (section 6, who will do what): the ACO convenes the
// interdisciplinary care team and is accountable for medical care but does not authorize community LTSS or
// HCBS waiver services; the LTSS CP coordinates and navigates LTSS but does not authorize services or
// define their quantity or duration; the waiver case manager coordinates waiver services; the TPA
// prior-authorizes community LTSS and reviews requests for duplication; members may opt out of CP supports
// at any time.
//
// Bundles: 1. directory (ACO, LTSS CP, ASAP, TPA, PCA agency and their staff)
//          2. Dorothy Sullivan: ACO + LTSS CP + Frail Elder Waiver, one care team, data-sharing consent,
//             CP proposal for personal care, TPA prior authorization, ACO medical orders, ASAP meals
//          3. Kevin Brooks: ACO member who opted out of the LTSS CP
import type { SeedBundle } from '../fhir.js';
import type { ParticipantSpec } from '../resources.js';
import { LOINC, ScenarioBuilder, concept, cpt, hcpcs, nucc, program, seedUrl } from '../fhir.js';
import {
  address,
  careTeam,
  dataSharingConsent,
  enrolment,
  formDocument,
  optOutConsent,
  organization,
  patient,
  perWeek,
  practitioner,
  practitionerRole,
  serviceRequest,
} from '../resources.js';

const MASSHEALTH_ID = seedUrl('sid/masshealth-member-id');

export function maScenario(): SeedBundle[] {
  const b = new ScenarioBuilder('ma');

  // ---- 1. directory ---------------------------------------------------------------------------------
  b.bundle('directory: ACO, LTSS Community Partner, ASAP, TPA and staff');
  const aco = b.add(
    'ma-org-aco',
    organization({
      name: 'Pioneer Valley Community Care ACO',
      role: ['aco', 'Accountable Care Organization'],
      npiBase: '141067752',
      address: address('3300 Main Street', 'Springfield', 'MA', '01107'),
      phone: '+1-413-555-0150',
      alias: ['PVCC ACO'],
    }),
    'Pioneer Valley Community Care ACO',
  );
  const cp = b.add(
    'ma-org-ltss-cp',
    organization({
      name: 'Western Mass Independent Living LTSS Community Partner',
      role: ['ltss-cp', 'LTSS Community Partner'],
      npiBase: '166239108',
      address: address('60 Congress Street', 'Springfield', 'MA', '01104'),
      phone: '+1-413-555-0161',
    }),
    'Western Mass Independent Living LTSS CP',
  );
  const asap = b.add(
    'ma-org-asap',
    organization({
      name: 'Greater Springfield Elder Services ASAP',
      role: ['waiver-agency', 'HCBS waiver case management (ASAP)'],
      npiBase: '128873405',
      address: address('66 Industry Avenue', 'Springfield', 'MA', '01104'),
      phone: '+1-413-555-0172',
    }),
    'Greater Springfield Elder Services ASAP',
  );
  const tpa = b.add(
    'ma-org-tpa',
    organization({
      name: 'MassHealth LTSS Third Party Administrator',
      role: ['tpa', 'LTSS Third Party Administrator'],
      npiBase: '117448320',
      address: address('100 Hancock Street', 'Quincy', 'MA', '02171'),
      phone: '+1-844-555-0190',
      alias: ['LTSS TPA'],
    }),
    'MassHealth LTSS TPA',
  );
  const pcaAgency = b.add(
    'ma-org-pca-agency',
    organization({
      name: 'Pioneer Valley Home Care Partners',
      role: ['ltss-provider', 'LTSS provider'],
      npiBase: '150982267',
      address: address('1391 Main Street', 'Springfield', 'MA', '01103'),
      phone: '+1-413-555-0114',
    }),
    'Pioneer Valley Home Care Partners',
  );

  const thompson = b.add(
    'ma-pract-thompson',
    practitioner({
      given: 'Aisha',
      family: 'Thompson',
      suffix: 'RN',
      gender: 'female',
      npiBase: '131658290',
      phone: '+1-413-555-0151',
      qualifications: [{ code: nucc('163W00000X', 'Registered Nurse'), period: { start: '2010-07-01' }, issuer: 'Massachusetts Board of Registration in Nursing' }],
    }),
  );
  const kim = b.add(
    'ma-pract-kim',
    practitioner({
      given: 'Robert',
      family: 'Kim',
      suffix: 'MD',
      gender: 'male',
      npiBase: '174429013',
      phone: '+1-413-555-0152',
      qualifications: [{ code: nucc('207Q00000X', 'Family Medicine Physician'), period: { start: '2006-07-01' }, issuer: 'Massachusetts Board of Registration in Medicine' }],
    }),
  );
  const obrien = b.add(
    'ma-pract-obrien',
    practitioner({
      given: 'Megan',
      family: "O'Brien",
      suffix: 'LSW',
      gender: 'female',
      npiBase: '185576341',
      phone: '+1-413-555-0162',
      qualifications: [{ code: nucc('104100000X', 'Social Worker'), period: { start: '2016-01-15' }, issuer: 'Massachusetts Board of Registration of Social Workers' }],
    }),
  );
  const martinez = b.add(
    'ma-pract-martinez',
    practitioner({
      given: 'José',
      family: 'Martinez',
      suffix: 'LSW',
      gender: 'male',
      npiBase: '112093847',
      phone: '+1-413-555-0173',
      qualifications: [{ code: nucc('104100000X', 'Social Worker'), period: { start: '2013-04-01' }, issuer: 'Massachusetts Board of Registration of Social Workers' }],
    }),
  );
  const park = b.add(
    'ma-pract-park',
    practitioner({
      given: 'Linda',
      family: 'Park',
      suffix: 'RN',
      gender: 'female',
      npiBase: '199120456',
      phone: '+1-844-555-0191',
      qualifications: [{ code: nucc('163W00000X', 'Registered Nurse'), period: { start: '2004-05-20' }, issuer: 'Massachusetts Board of Registration in Nursing' }],
    }),
  );
  const thompsonAtAco = b.add(
    'ma-role-thompson-aco',
    practitionerRole({ practitioner: thompson, organization: aco, title: 'ACO nurse care manager', start: '2018-03-01' }),
    'Aisha Thompson, RN (PVCC ACO)',
  );
  const kimAtAco = b.add(
    'ma-role-kim-aco',
    practitionerRole({ practitioner: kim, organization: aco, title: 'Primary care physician', start: '2018-03-01' }),
    'Robert Kim, MD (PVCC ACO)',
  );
  const obrienAtCp = b.add(
    'ma-role-obrien-cp',
    practitionerRole({ practitioner: obrien, organization: cp, title: 'LTSS CP care coordinator', start: '2019-06-01' }),
    "Megan O'Brien, LSW (Western Mass Independent Living LTSS CP)",
  );
  const martinezAtAsap = b.add(
    'ma-role-martinez-asap',
    practitionerRole({ practitioner: martinez, organization: asap, title: 'Frail Elder Waiver case manager', start: '2015-09-14' }),
    'José Martinez, LSW (Greater Springfield Elder Services ASAP)',
  );
  const parkAtTpa = b.add(
    'ma-role-park-tpa',
    practitionerRole({ practitioner: park, organization: tpa, title: 'LTSS clinical reviewer (prior authorization)', start: '2021-07-01' }),
    'Linda Park, RN (MassHealth LTSS TPA)',
  );

  // ---- 2. Dorothy Sullivan: ACO + LTSS CP + Frail Elder Waiver --------------------------------------
  b.bundle('member Dorothy Sullivan: ACO care team with LTSS CP and waiver case manager');
  const sullivan = b.add(
    'ma-member-sullivan',
    patient({
      given: 'Dorothy',
      family: 'Sullivan',
      gender: 'female',
      birthDate: '1962-08-20',
      medicaidId: { system: MASSHEALTH_ID, value: '100045678912' },
      address: address('48 Sumner Avenue', 'Springfield', 'MA', '01108'),
      phone: '+1-413-555-0377',
    }),
    'Dorothy Sullivan',
  );
  b.add('ma-eoc-sullivan-aco', enrolment({ patient: sullivan, program: program('ma-aco', 'MassHealth ACO'), managingOrganization: aco, period: { start: '2025-01-01' }, careManager: thompsonAtAco }));
  b.add('ma-eoc-sullivan-cp', enrolment({ patient: sullivan, program: program('ma-ltss-cp', 'MassHealth LTSS Community Partner supports'), managingOrganization: cp, period: { start: '2025-09-15' }, careManager: obrienAtCp }));
  const sullivanNeeds = 'Heart failure and type 2 diabetes with two admissions in 2025; medical needs lead. Needs hands-on help with bathing and dressing; on the Frail Elder Waiver.';
  const careTeamAgreement = b.add(
    'ma-doc-sullivan-agreement',
    formDocument({
      subject: sullivan,
      title: 'Care team agreement and lead care manager designation',
      type: concept(LOINC, '18776-5', 'Plan of care note'),
      date: '2025-09-22',
      author: thompsonAtAco,
      custodian: aco,
      text:
        'Care team meeting 2025-09-22 with the member and her daughter. Lead care manager: Aisha Thompson, RN (ACO). ' +
        "LTSS CP (Megan O'Brien) supports LTSS navigation and choice of providers; Frail Elder Waiver case management stays with " +
        'Greater Springfield Elder Services (José Martinez). Reason: ' +
        sullivanNeeds,
    }),
    'Care team agreement, 2025-09-22',
  );
  b.add(
    'ma-team-sullivan',
    careTeam({
      name: 'PVCC ACO interdisciplinary care team',
      subject: sullivan,
      managingOrganization: aco,
      start: '2025-01-15',
      reason: 'Integrate physical health, behavioral health and LTSS for a member with complex needs',
      participants: [
        {
          member: thompsonAtAco,
          start: '2025-09-22',
          scopes: ['medical', 'comprehensive', 'care-transitions'],
          lead: { designatedBy: [aco], basis: careTeamAgreement, reason: sullivanNeeds, date: '2025-09-22' },
        },
        { member: kimAtAco, start: '2025-01-15', role: [concept('http://snomed.info/sct', '446050000', 'Primary care physician')] },
        { member: obrienAtCp, start: '2025-09-15', scopes: ['ltss-navigation'] },
        { member: martinezAtAsap, start: '2025-01-15', scopes: ['waiver-case-management'] },
      ],
    }),
    'ACO care team',
  );
  b.add(
    'ma-consent-sullivan-sharing',
    dataSharingConsent({ patient: sullivan, date: '2025-09-15', organization: aco, actors: [aco, cp, asap, tpa] }),
  );
  const cpProposal = b.add(
    'ma-sr-sullivan-pca-proposal',
    serviceRequest({
      subject: sullivan,
      code: hcpcs('T1019', 'Personal care services, per 15 minutes'),
      category: 'community-ltss',
      intent: 'proposal',
      requester: obrienAtCp,
      occurrencePeriod: { start: '2026-10-20' },
      authoredOn: '2026-10-14',
      reason: 'Needs hands-on help with bathing and dressing (member choice: agency PCA)',
      note: 'LTSS CP recommendation; hours and duration are set by the prior authorization, not by the CP.',
    }),
    'LTSS CP proposal: personal care',
  );
  b.add(
    'ma-sr-sullivan-pca-authorization',
    serviceRequest({
      subject: sullivan,
      code: hcpcs('T1019', 'Personal care services, per 15 minutes'),
      category: 'community-ltss',
      requester: parkAtTpa,
      basedOn: [cpProposal],
      occurrencePeriod: { start: '2026-11-01', end: '2027-04-30' },
      authoredOn: '2026-10-28',
      quantityRatio: perWeek(14, 'hours', 'h'),
      performer: [pcaAgency],
      reason: 'Prior authorization after review for duplication with waiver homemaker services',
    }),
  );
  const discharge = { start: '2026-11-02', end: '2026-12-31' };
  b.add(
    'ma-sr-sullivan-home-health',
    serviceRequest({
      subject: sullivan,
      code: hcpcs('G0299', 'Direct skilled nursing services of a registered nurse (RN) in the home health setting, each 15 minutes'),
      category: 'medical',
      requester: kimAtAco,
      occurrencePeriod: discharge,
      authoredOn: '2026-10-30',
      reason: 'Heart failure: weight and symptom monitoring, medication teaching after discharge',
    }),
  );
  b.add(
    'ma-sr-sullivan-pt-eval',
    serviceRequest({
      subject: sullivan,
      code: cpt('97162', 'Physical therapy evaluation: moderate complexity'),
      category: 'medical',
      requester: kimAtAco,
      occurrencePeriod: discharge,
      authoredOn: '2026-10-30',
      reason: 'Deconditioning after hospitalization; fall risk',
    }),
  );
  b.add(
    'ma-sr-sullivan-walker',
    serviceRequest({
      subject: sullivan,
      code: hcpcs('E0143', 'Walker, folding, wheeled, adjustable or fixed height'),
      category: 'medical',
      requester: kimAtAco,
      occurrencePeriod: discharge,
      authoredOn: '2026-10-30',
      reason: 'Unsteady gait',
    }),
  );
  b.add(
    'ma-sr-sullivan-meals',
    serviceRequest({
      subject: sullivan,
      code: hcpcs('S5170', 'Home delivered meals, including preparation; per meal'),
      category: 'hcbs-waiver',
      requester: martinezAtAsap,
      occurrencePeriod: { start: '2026-07-01', end: '2027-06-30' },
      authoredOn: '2026-06-24',
      quantityRatio: perWeek(5, 'meals', '{meal}'),
      reason: 'Frail Elder Waiver plan of care: cardiac diet, unable to cook safely',
    }),
  );

  // ---- 3. Kevin Brooks: opted out of the LTSS CP ----------------------------------------------------
  b.bundle('member Kevin Brooks: ACO care team, opted out of LTSS CP supports');
  const brooks = b.add(
    'ma-member-brooks',
    patient({
      given: 'Kevin',
      family: 'Brooks',
      gender: 'male',
      birthDate: '1975-02-14',
      medicaidId: { system: MASSHEALTH_ID, value: '100078123456' },
      address: address('212 Chestnut Street, Apt 2', 'Holyoke', 'MA', '01040'),
      phone: '+1-413-555-0388',
    }),
    'Kevin Brooks',
  );
  b.add('ma-eoc-brooks-aco', enrolment({ patient: brooks, program: program('ma-aco', 'MassHealth ACO'), managingOrganization: aco, period: { start: '2024-03-01' }, careManager: thompsonAtAco }));
  b.add(
    'ma-eoc-brooks-cp',
    enrolment({
      patient: brooks,
      program: program('ma-ltss-cp', 'MassHealth LTSS Community Partner supports'),
      managingOrganization: cp,
      period: { start: '2025-05-01', end: '2026-03-09' },
      status: 'finished',
    }),
  );
  b.add(
    'ma-consent-brooks-cp-optout',
    optOutConsent({
      patient: brooks,
      start: '2026-03-10',
      organization: aco,
      from: cp,
      note: 'Member declined LTSS CP supports by phone on 2026-03-10; prefers to work with his ACO care manager only.',
    }),
  );
  const brooksTeamMembers: ParticipantSpec[] = [
    { member: thompsonAtAco, start: '2024-03-15', scopes: ['medical', 'comprehensive', 'care-transitions'] },
    { member: kimAtAco, start: '2024-03-01' },
    // The CP's participation before the opt-out stays on record, ended the day before it.
    { member: obrienAtCp, start: '2025-05-01', end: '2026-03-09', scopes: ['ltss-navigation'] },
  ];
  b.add(
    'ma-team-brooks',
    careTeam({
      name: 'PVCC ACO care team',
      subject: brooks,
      managingOrganization: aco,
      start: '2024-03-01',
      reason: 'Spinal cord injury (T10 paraplegia) with recurrent pressure injuries',
      participants: brooksTeamMembers,
    }),
    'ACO care team',
  );
  b.add(
    'ma-sr-brooks-wound-care',
    serviceRequest({
      subject: brooks,
      code: hcpcs('G0299', 'Direct skilled nursing services of a registered nurse (RN) in the home health setting, each 15 minutes'),
      category: 'medical',
      requester: kimAtAco,
      occurrencePeriod: { start: '2026-11-01', end: '2027-01-31' },
      authoredOn: '2026-10-27',
      reason: 'Stage 3 sacral pressure injury: wound care twice weekly',
    }),
  );

  return b.build();
}

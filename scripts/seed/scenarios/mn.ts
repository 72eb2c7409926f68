// Minnesota: care coordination in MSHO and SNBC, with the Elderly Waiver through the MCO care coordinator
// and a disability waiver through a county in a "dual role".
//
// Source: Minnesota DHS Community-Based Services Manual, "Care coordination": a care coordinator is a
// social worker, licensed social worker, RN, PA, NP, public health nurse or physician, and for MSHO/MSC+
// also a certified assessor; MSHO/MSC+ members on the Elderly Waiver get case management and EW service
// authorizations from the MCO care coordinator (one staff member is certified assessor, case manager and
// care coordinator); members who request a disability waiver (BI, CAC, CADI, DD) get it through a county or
// tribal nation, which may also be their care coordinator (the dual role), communicating with the MCO on
// form DHS-5841.
//
// Bundles: 1. directory (MCO, county, care coordinators with qualifications)
//          2. Evelyn Johnson: MSHO + Elderly Waiver, MCO RN care coordinator (certified assessor) is lead
//          3. Marcus Olson: SNBC + CADI waiver, county case manager in a dual role is lead
import type { SeedBundle } from '../fhir.js';
import { LOINC, ScenarioBuilder, certifiedAssessor, concept, hcpcs, nucc, program, seedUrl } from '../fhir.js';
import {
  address,
  careTeam,
  enrolment,
  formDocument,
  organization,
  patient,
  perWeek,
  practitioner,
  practitionerRole,
  serviceRequest,
} from '../resources.js';

const MN_PMI = seedUrl('sid/mn-pmi');

export function mnScenario(): SeedBundle[] {
  const b = new ScenarioBuilder('mn');

  // ---- 1. directory ---------------------------------------------------------------------------------
  b.bundle('directory: MCO, county, care coordinators with qualifications');
  const mco = b.add(
    'mn-org-mco',
    organization({
      name: 'North Star Health Plan',
      role: ['mco', 'Managed care organization (MSHO, SNBC)'],
      npiBase: '147720395',
      address: address('1800 Energy Park Drive', 'Saint Paul', 'MN', '55108'),
      phone: '+1-651-555-0130',
    }),
    'North Star Health Plan',
  );
  const county = b.add(
    'mn-org-county',
    organization({
      name: 'Ramsey County Social Services',
      role: ['county', 'County'],
      npiBase: '160392884',
      address: address('160 East Kellogg Boulevard', 'Saint Paul', 'MN', '55101'),
      phone: '+1-651-555-0147',
    }),
    'Ramsey County Social Services',
  );

  const lindqvist = b.add(
    'mn-pract-lindqvist',
    practitioner({
      given: 'Karin',
      family: 'Lindqvist',
      suffix: 'RN',
      gender: 'female',
      npiBase: '138840021',
      phone: '+1-651-555-0131',
      qualifications: [
        { code: nucc('163W00000X', 'Registered Nurse'), period: { start: '2009-06-01' }, issuer: 'Minnesota Board of Nursing' },
        { code: certifiedAssessor(), period: { start: '2020-03-16' }, issuer: 'Minnesota DHS (MnCHOICES certified assessor)' },
      ],
    }),
  );
  const hassan = b.add(
    'mn-pract-hassan',
    practitioner({
      given: 'Abdi',
      family: 'Hassan',
      suffix: 'LSW',
      gender: 'male',
      npiBase: '155203947',
      phone: '+1-651-555-0148',
      qualifications: [
        { code: nucc('1041C0700X', 'Licensed social worker'), period: { start: '2015-08-10' }, issuer: 'Minnesota Board of Social Work' },
        { code: certifiedAssessor(), period: { start: '2019-11-04' }, issuer: 'Minnesota DHS (MnCHOICES certified assessor)' },
      ],
    }),
  );
  const nguyen = b.add(
    'mn-pract-nguyen',
    practitioner({
      given: 'Thao',
      family: 'Nguyen',
      suffix: 'PHN',
      gender: 'female',
      npiBase: '172215836',
      phone: '+1-651-555-0132',
      qualifications: [{ code: nucc('163WC1500X', 'Public health nurse'), period: { start: '2012-05-21' }, issuer: 'Minnesota Board of Nursing' }],
    }),
  );
  const lindqvistAtMco = b.add(
    'mn-role-lindqvist-mco',
    practitionerRole({ practitioner: lindqvist, organization: mco, title: 'MSHO care coordinator (RN, certified assessor)', start: '2020-04-01' }),
    'Karin Lindqvist, RN (North Star Health Plan)',
  );
  const hassanAtCounty = b.add(
    'mn-role-hassan-county',
    practitionerRole({ practitioner: hassan, organization: county, title: 'Disability waiver case manager and care coordinator (dual role)', start: '2019-12-02' }),
    'Abdi Hassan, LSW (Ramsey County Social Services)',
  );
  const nguyenAtMco = b.add(
    'mn-role-nguyen-mco',
    practitionerRole({ practitioner: nguyen, organization: mco, title: 'SNBC county liaison (PHN)', start: '2022-01-03' }),
    'Thao Nguyen, PHN (North Star Health Plan)',
  );

  // ---- 2. Evelyn Johnson: MSHO + Elderly Waiver ------------------------------------------------------
  b.bundle('member Evelyn Johnson: MSHO + Elderly Waiver, MCO care coordinator');
  const johnson = b.add(
    'mn-member-johnson',
    patient({
      given: 'Evelyn',
      family: 'Johnson',
      gender: 'female',
      birthDate: '1939-05-30',
      medicaidId: { system: MN_PMI, value: '00345678' },
      address: address('1045 Payne Avenue', 'Saint Paul', 'MN', '55130'),
      phone: '+1-651-555-0455',
    }),
    'Evelyn Johnson',
  );
  b.add('mn-eoc-johnson-msho', enrolment({ patient: johnson, program: program('mn-msho', 'Minnesota Senior Health Options'), managingOrganization: mco, period: { start: '2025-02-01' }, careManager: lindqvistAtMco }));
  b.add('mn-eoc-johnson-ew', enrolment({ patient: johnson, program: program('mn-elderly-waiver', 'Elderly Waiver'), managingOrganization: mco, period: { start: '2025-02-01' }, careManager: lindqvistAtMco }));
  const johnsonNeeds = 'Elderly Waiver: mild dementia and osteoarthritis, lives alone; one staff member serves as certified assessor, case manager and care coordinator.';
  const supportPlan = b.add(
    'mn-doc-johnson-support-plan',
    formDocument({
      subject: johnson,
      title: 'MnCHOICES assessment and Elderly Waiver support plan',
      type: concept(LOINC, '18776-5', 'Plan of care note'),
      date: '2025-01-22',
      author: lindqvistAtMco,
      custodian: mco,
      text:
        'MnCHOICES assessment 2025-01-22 (including the staying healthy section). Eligible for the Elderly Waiver; enrolls in MSHO with EW from 2025-02-01. ' +
        'Care coordinator, case manager and certified assessor: Karin Lindqvist, RN (North Star Health Plan). ' +
        'Support plan: home-delivered meals, homemaker services, personal emergency response system.',
    }),
    'MnCHOICES assessment and support plan, 2025-01-22',
  );
  b.add(
    'mn-team-johnson',
    careTeam({
      name: 'North Star MSHO care coordination team',
      subject: johnson,
      managingOrganization: mco,
      start: '2025-02-01',
      reason: 'MSHO care coordination and Elderly Waiver case management',
      participants: [
        {
          member: lindqvistAtMco,
          start: '2025-02-01',
          scopes: ['comprehensive', 'waiver-case-management', 'care-transitions'],
          lead: { designatedBy: [mco], basis: supportPlan, reason: johnsonNeeds, date: '2025-02-01' },
        },
      ],
    }),
    'MSHO care coordination team',
  );
  const ewYear = { start: '2026-02-01', end: '2027-01-31' };
  b.add(
    'mn-sr-johnson-meals',
    serviceRequest({
      subject: johnson,
      code: hcpcs('S5170', 'Home delivered meals, including preparation; per meal'),
      category: 'hcbs-waiver',
      requester: lindqvistAtMco,
      occurrencePeriod: ewYear,
      authoredOn: '2026-01-20',
      quantityRatio: perWeek(7, 'meals', '{meal}'),
      reason: 'Elderly Waiver service authorization: unable to prepare meals safely',
    }),
  );
  b.add(
    'mn-sr-johnson-homemaker',
    serviceRequest({
      subject: johnson,
      code: hcpcs('S5130', 'Homemaker service, NOS; per 15 minutes'),
      category: 'hcbs-waiver',
      requester: lindqvistAtMco,
      occurrencePeriod: ewYear,
      authoredOn: '2026-01-20',
      quantityRatio: perWeek(3, 'hours', 'h'),
      reason: 'Elderly Waiver service authorization: housekeeping and laundry',
    }),
  );
  b.add(
    'mn-sr-johnson-pers',
    serviceRequest({
      subject: johnson,
      code: hcpcs('S5161', 'Emergency response system; service fee, per month'),
      category: 'hcbs-waiver',
      requester: lindqvistAtMco,
      occurrencePeriod: ewYear,
      authoredOn: '2026-01-20',
      reason: 'Elderly Waiver service authorization: lives alone, history of falls',
    }),
  );

  // ---- 3. Marcus Olson: SNBC + CADI waiver, county in dual role -------------------------------------
  b.bundle('member Marcus Olson: SNBC + CADI waiver, county in a dual role');
  const olson = b.add(
    'mn-member-olson',
    patient({
      given: 'Marcus',
      family: 'Olson',
      gender: 'male',
      birthDate: '1986-09-17',
      medicaidId: { system: MN_PMI, value: '00791234' },
      address: address('722 Rice Street, Apt 104', 'Saint Paul', 'MN', '55117'),
      phone: '+1-651-555-0466',
    }),
    'Marcus Olson',
  );
  b.add('mn-eoc-olson-snbc', enrolment({ patient: olson, program: program('mn-snbc', 'Special Needs BasicCare'), managingOrganization: mco, period: { start: '2024-07-01' } }));
  b.add(
    'mn-eoc-olson-cadi',
    enrolment({ patient: olson, program: program('mn-disability-waiver', 'Disability waiver (CADI)'), managingOrganization: county, period: { start: '2023-05-01' }, careManager: hassanAtCounty }),
  );
  const olsonReason = 'CADI waiver (traumatic brain injury, seizure disorder); Ramsey County is case manager and care coordinator (dual role), delegated by the SNBC plan.';
  const dhs5841 = b.add(
    'mn-doc-olson-dhs5841',
    formDocument({
      subject: olson,
      title: 'MCO, County Agency and Tribal Nation Communication Form (DHS-5841)',
      type: concept(LOINC, '34133-9', 'Summary of episode note'),
      date: '2024-06-24',
      author: hassanAtCounty,
      custodian: county,
      text:
        'DHS-5841 sent to North Star Health Plan 2024-06-24: member enrolls in SNBC from 2024-07-01 and on the CADI waiver. ' +
        'Ramsey County (Abdi Hassan, LSW, certified assessor) acts in a dual role as waiver case manager and SNBC care coordinator ' +
        'and completes the staying healthy section as a delegate of the MCO. Request: authorization of state plan PCA/CFSS.',
    }),
    'DHS-5841, 2024-06-24',
  );
  b.add(
    'mn-team-olson',
    careTeam({
      name: 'Ramsey County CADI / SNBC care team',
      subject: olson,
      managingOrganization: county,
      start: '2024-07-01',
      reason: 'Disability waiver case management and SNBC care coordination in a dual role',
      participants: [
        {
          member: hassanAtCounty,
          start: '2024-07-01',
          scopes: ['waiver-case-management', 'comprehensive'],
          lead: { designatedBy: [mco, county], basis: dhs5841, reason: olsonReason, date: '2024-07-01' },
        },
        { member: nguyenAtMco, start: '2024-07-01', scopes: ['medical'] },
      ],
    }),
    'County / SNBC care team',
  );
  b.add(
    'mn-sr-olson-ils',
    serviceRequest({
      subject: olson,
      code: hcpcs('H2014', 'Skills training and development, per 15 minutes'),
      category: 'hcbs-waiver',
      requester: hassanAtCounty,
      occurrencePeriod: { start: '2026-05-01', end: '2027-04-30' },
      authoredOn: '2026-04-18',
      quantityRatio: perWeek(4, 'hours', 'h'),
      reason: 'CADI independent living skills: budgeting, medication routine, bus travel',
    }),
  );
  b.add(
    'mn-sr-olson-pca',
    serviceRequest({
      subject: olson,
      code: hcpcs('T1019', 'Personal care services, per 15 minutes'),
      category: 'state-plan-ltss',
      requester: nguyenAtMco,
      occurrencePeriod: { start: '2026-05-01', end: '2027-04-30' },
      authoredOn: '2026-04-25',
      quantityRatio: perWeek(10, 'hours', 'h'),
      reason: 'State plan PCA/CFSS requested by the county on DHS-5841; authorized by the SNBC plan',
    }),
  );

  return b.build();
}

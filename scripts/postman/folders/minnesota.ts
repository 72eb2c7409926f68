// Folder 5: Minnesota. An MSHO member whose care coordinator must be qualified and a certified assessor,
// and an SNBC member on a disability waiver whose county coordinates in its dual role.
import {
  ADMIN,
  createdHere,
  CONCORD,
  LEAD_ROLE,
  NUCC,
  concept,
  enrolment,
  hcpcs,
  json,
  leadDesignation,
  organization,
  profile,
  put,
  putBundle,
  ref,
  refused,
  saveId,
  scope,
  status,
  test,
  tokenRequest,
  transactionAll,
  type Actor,
  type Folder,
} from '../dsl.js';

export const MN_MCO: Actor = { key: 'mnMco', label: 'North Star Health Plan', organization: 'Organization/mn-mco' };
export const MN_COUNTY: Actor = { key: 'mnCounty', label: 'Ramsey County', organization: 'Organization/mn-county' };

const TEAM_PROFILE = profile('coordination-care-team');

const qualification = (system: string, code: string, start: string, display?: string) => ({ code: { coding: [{ system, code, ...(display ? { display } : {}) }] }, period: { start } });

function johnsonTeam(lead: string) {
  return {
    resourceType: 'CareTeam',
    id: 'mn-johnson-team',
    meta: TEAM_PROFILE,
    status: 'active',
    name: 'North Star MSHO care coordination team',
    subject: ref('Patient/mn-johnson'),
    managingOrganization: [ref('Organization/mn-mco')],
    period: { start: '2026-02-01' },
    participant: [
      {
        extension: [
          leadDesignation({ designatedBy: ['Organization/mn-mco'], basis: 'DocumentReference/mn-johnson-support-plan', reason: 'Mild dementia and osteoarthritis; lives alone', date: '2026-02-01' }),
          scope('comprehensive'),
          scope('waiver-case-management'),
        ],
        role: LEAD_ROLE,
        member: ref(lead),
        onBehalfOf: ref('Organization/mn-mco'),
        period: { start: '2026-02-01' },
      },
    ],
  };
}

const supportPlan = (id: string, patient: string, title: string) => ({
  resourceType: 'DocumentReference',
  id,
  status: 'current',
  subject: ref(`Patient/${patient}`),
  description: 'MnCHOICES assessment and support plan',
  content: [{ attachment: { contentType: 'application/pdf', title } }],
});

export const minnesota: Folder = {
  name: '5. Minnesota',
  description:
    "Minnesota's care coordination manual: in MSHO, MSC+ and SNBC the care coordinator must be a qualified professional, in MSHO and MSC+ also a certified assessor; Elderly Waiver services come through the MCO's care coordinator; disability waiver services come through a county or tribal nation, which may coordinate in a \"dual role\". The MCO and the county each act through their own client.",
  items: [
    tokenRequest(ADMIN, "The administrative client sets up the directory and the enrolments, as the state's enrolment feed would."),
    tokenRequest(MN_MCO, "The MCO's care coordination system gets its token: it acts for Organization/mn-mco only."),
    tokenRequest(MN_COUNTY, "The county's case management system gets its token: it acts for Organization/mn-county only."),
    {
      name: 'Directory: the MCO, the county and their coordinators',
      description:
        "The MCO (`mco`) and Ramsey County (`county`); two MCO care coordinators (Karin Lindqvist, RN and certified assessor; Thao Nguyen, public health nurse, not a certified assessor) and a county social worker. Qualifications are NUCC taxonomy codes plus Concord's `certified-assessor`, each with the period it is valid.",
      method: 'POST',
      url: '',
      body: putBundle([
        organization('mn-mco', 'North Star Health Plan', 'mco'),
        organization('mn-county', 'Ramsey County Social Services', 'county'),
        {
          resourceType: 'Practitioner',
          id: 'mn-lindqvist',
          name: [{ family: 'Lindqvist', given: ['Karin'], suffix: ['RN'] }],
          qualification: [qualification(NUCC, '163W00000X', '2009-06-01', 'Registered Nurse'), qualification(`${CONCORD}/CodeSystem/qualification`, 'certified-assessor', '2020-03-16')],
        },
        { resourceType: 'Practitioner', id: 'mn-nguyen', name: [{ family: 'Nguyen', given: ['Thao'], suffix: ['PHN'] }], qualification: [qualification(NUCC, '163WC1500X', '2012-05-21', 'Public health nurse')] },
        { resourceType: 'Practitioner', id: 'mn-berg', name: [{ family: 'Berg', given: ['Anders'], suffix: ['LSW'] }], qualification: [qualification(NUCC, '104100000X', '2014-08-01', 'Social Worker')] },
        { resourceType: 'PractitionerRole', id: 'mn-lindqvist-mco', active: true, practitioner: ref('Practitioner/mn-lindqvist'), organization: ref('Organization/mn-mco') },
      ]),
      tests: [transactionAll('201', 6)],
    },
    {
      name: 'Enrolments: Evelyn (MSHO + Elderly Waiver) and Marcus (SNBC + disability waiver)',
      description:
        "Evelyn Johnson is in MSHO with the MCO and on the Elderly Waiver through it; Marcus Olson is in SNBC with the MCO and on a disability waiver (CADI) through the county.",
      method: 'POST',
      url: '',
      body: putBundle([
        { resourceType: 'Patient', id: 'mn-johnson', name: [{ family: 'Johnson', given: ['Evelyn'] }], birthDate: '1939-05-04', managingOrganization: ref('Organization/mn-mco') },
        enrolment('mn-johnson-msho', 'mn-johnson', 'mn-msho', 'mn-mco', '2025-01-01'),
        enrolment('mn-johnson-ew', 'mn-johnson', 'mn-elderly-waiver', 'mn-mco', '2025-01-01'),
        { resourceType: 'Patient', id: 'mn-olson', name: [{ family: 'Olson', given: ['Marcus'] }], birthDate: '1983-10-17', managingOrganization: ref('Organization/mn-county') },
        enrolment('mn-olson-snbc', 'mn-olson', 'mn-snbc', 'mn-mco', '2025-01-01'),
        enrolment('mn-olson-cadi', 'mn-olson', 'mn-disability-waiver', 'mn-county', '2024-06-01'),
      ]),
      tests: [transactionAll('201', 6)],
    },
    {
      name: "MCO: Evelyn's assessment and support plan",
      description: 'The MnCHOICES assessment and support plan: the basis of the lead designation.',
      as: MN_MCO,
      ...put(supportPlan('mn-johnson-support-plan', 'mn-johnson', 'MnCHOICES assessment and support plan, 2026-01-20')),
      tests: [status(201), createdHere],
    },
    {
      name: 'MCO: a coordinator who is not a certified assessor is refused (coordinator-qualified)',
      description:
        'The MCO makes Thao Nguyen, a public health nurse, Evelyn\'s care coordinator. That qualifies her in SNBC, but MSHO also requires a certified assessor for the whole lead period: refused with `coordinator-qualified`.',
      as: MN_MCO,
      ...put(johnsonTeam('Practitioner/mn-nguyen')),
      tests: [refused('coordinator-qualified', { expression: 'CareTeam.participant[0].member', diagnosticsInclude: ['Practitioner/mn-nguyen'] })],
    },
    {
      name: 'MCO: a qualified certified assessor leads',
      description:
        "Karin Lindqvist is a registered nurse and a certified assessor since 2020, so the team is stored. As Evelyn's care coordinator the MCO also holds Elderly Waiver case management (`waiver-case-management`): in MSHO, EW services come through the care coordinator.",
      as: MN_MCO,
      ...put(johnsonTeam('Practitioner/mn-lindqvist')),
      tests: [status(201), test('the lead is Karin Lindqvist', json, `pm.expect(body.participant[0].member.reference).to.eql('Practitioner/mn-lindqvist');`)],
    },
    {
      name: 'MCO: the care coordinator authorizes Elderly Waiver meals',
      description:
        "An MCO may not order HCBS waiver services in general, with one exception: the MSHO/MSC+ care coordinator authorizes Elderly Waiver services. Karin Lindqvist orders home-delivered meals (`hcbs-waiver`) for Evelyn; the id is kept in `{{mnEwOrderId}}`.",
      as: MN_MCO,
      method: 'POST',
      url: 'ServiceRequest',
      body: {
        resourceType: 'ServiceRequest',
        meta: profile('coordinated-service-request'),
        status: 'active',
        intent: 'order',
        category: [concept('service-category', 'hcbs-waiver')],
        code: hcpcs('S5170', 'Home delivered meals'),
        subject: ref('Patient/mn-johnson'),
        occurrencePeriod: { start: '2026-03-01', end: '2026-08-31' },
        requester: ref('PractitionerRole/mn-lindqvist-mco'),
      },
      tests: [status(201), saveId('mnEwOrderId')],
    },
    {
      name: 'MCO: disability-waiver case management is the county\'s (waiver-case-manager-matches-waiver)',
      description:
        "The MCO tries to hold waiver case management for Marcus. For a member on a disability waiver, waiver services come through a county or tribal nation: refused with `waiver-case-manager-matches-waiver` (and, since an MCO may hold that scope only for Elderly Waiver members, `scope-allowed-for-role` as well).",
      as: MN_MCO,
      ...put({
        resourceType: 'CareTeam',
        id: 'mn-olson-mco-team',
        meta: TEAM_PROFILE,
        status: 'active',
        name: 'North Star SNBC care coordination',
        subject: ref('Patient/mn-olson'),
        participant: [{ extension: [scope('waiver-case-management')], member: ref('Practitioner/mn-lindqvist'), onBehalfOf: ref('Organization/mn-mco'), period: { start: '2026-02-01' } }],
      }),
      tests: [refused('waiver-case-manager-matches-waiver', { diagnosticsInclude: ['mn-disability-waiver'] })],
    },
    {
      name: "County: Marcus's support plan",
      description: "The county case manager's assessment and support plan for Marcus.",
      as: MN_COUNTY,
      ...put(supportPlan('mn-olson-support-plan', 'mn-olson', 'MnCHOICES assessment and CADI support plan, 2026-01-28')),
      tests: [status(201), createdHere],
    },
    {
      name: 'County: its dual role, led by a qualified social worker',
      description:
        "Ramsey County's social worker Anders Berg leads Marcus's care and holds both waiver case management and comprehensive coordination: the county's \"dual role\". In SNBC a social worker is a qualified care coordinator (no certified assessor required).",
      as: MN_COUNTY,
      ...put({
        resourceType: 'CareTeam',
        id: 'mn-olson-team',
        meta: TEAM_PROFILE,
        status: 'active',
        name: 'Ramsey County case management',
        subject: ref('Patient/mn-olson'),
        managingOrganization: [ref('Organization/mn-county')],
        period: { start: '2026-02-01' },
        participant: [
          {
            extension: [
              leadDesignation({ designatedBy: ['Organization/mn-county', 'Organization/mn-mco'], basis: 'DocumentReference/mn-olson-support-plan', reason: 'Developmental disability; supported living', date: '2026-01-28' }),
              scope('waiver-case-management'),
              scope('comprehensive'),
            ],
            role: LEAD_ROLE,
            member: ref('Practitioner/mn-berg'),
            onBehalfOf: ref('Organization/mn-county'),
            period: { start: '2026-02-01' },
          },
        ],
      }),
      tests: [
        status(201),
        test(
          'both scopes on the county participant',
          json,
          `const codes = body.participant[0].extension.filter(function (e) { return e.url === '${CONCORD}/StructureDefinition/coordination-scope'; }).map(function (e) { return e.valueCoding.code; });`,
          `pm.expect(codes).to.eql(['waiver-case-management', 'comprehensive']);`,
        ),
      ],
    },
    {
      name: "MCO: Marcus's care team as the county recorded it",
      description: "The MCO, which manages Marcus's SNBC enrolment, reads who coordinates what for him.",
      as: MN_MCO,
      method: 'GET',
      url: 'CareTeam?patient=Patient/mn-olson',
      tests: [status(200), test("the county's team only", json, `pm.expect(body.entry.map(function (e) { return e.resource.id; })).to.eql(['mn-olson-team']);`)],
    },
  ],
};

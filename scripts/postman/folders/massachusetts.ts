// Folder 4: Massachusetts. A MassHealth ACO and an LTSS Community Partner share Kevin Brooks until he
// opts out of Community Partner supports.
import {
  ADMIN,
  createdHere,
  concept,
  enrolment,
  hcpcs,
  json,
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

export const MA_ACO: Actor = { key: 'maAco', label: 'Pioneer Valley Community Care ACO', organization: 'Organization/ma-aco' };
export const MA_CP: Actor = { key: 'maCp', label: 'Western Mass Independent Living LTSS CP', organization: 'Organization/ma-cp' };

const TEAM_PROFILE = profile('coordination-care-team');

function cpTeam(id: string, period: Record<string, string>) {
  return {
    resourceType: 'CareTeam',
    id,
    meta: TEAM_PROFILE,
    status: 'active',
    name: 'LTSS Community Partner supports',
    subject: ref('Patient/ma-brooks'),
    managingOrganization: [ref('Organization/ma-cp')],
    participant: [{ extension: [scope('ltss-navigation')], member: ref('Practitioner/ma-walsh'), onBehalfOf: ref('Organization/ma-cp'), period }],
  };
}

function request(intent: string, options: { code: ReturnType<typeof hcpcs>; category: string; requester: string; occurrence: Record<string, string>; quantity?: boolean }) {
  return {
    resourceType: 'ServiceRequest',
    meta: profile('coordinated-service-request'),
    status: 'active',
    intent,
    category: [concept('service-category', options.category)],
    code: options.code,
    subject: ref('Patient/ma-brooks'),
    occurrencePeriod: options.occurrence,
    ...(options.quantity ? { quantityQuantity: { value: 20, unit: 'hours per week' } } : {}),
    requester: ref(options.requester),
  };
}

function acoTeam(withCp: boolean) {
  return {
    resourceType: 'CareTeam',
    id: 'ma-brooks-team',
    meta: TEAM_PROFILE,
    status: 'active',
    name: 'ACO care team',
    subject: ref('Patient/ma-brooks'),
    managingOrganization: [ref('Organization/ma-aco')],
    period: { start: '2025-07-01' },
    participant: [
      { extension: [scope('medical')], member: ref('Practitioner/ma-reyes'), onBehalfOf: ref('Organization/ma-aco'), period: { start: '2025-07-01' } },
      ...(withCp ? [{ extension: [scope('ltss-navigation')], member: ref('Practitioner/ma-walsh'), onBehalfOf: ref('Organization/ma-cp'), period: { start: '2026-04-01' } }] : []),
    ],
  };
}

const PERSONAL_CARE = hcpcs('T1019', 'Personal care services, per 15 minutes');

export const massachusetts: Folder = {
  name: '4. Massachusetts',
  description:
    "Kevin Brooks is a MassHealth ACO member who also gets supports from an LTSS Community Partner. MassHealth's guidance: the Community Partner coordinates and navigates LTSS but does not authorize services or set their quantity or duration; the ACO does not authorize community LTSS or HCBS waiver services; members may opt out of Community Partner supports at any time. The ACO and the Community Partner each act through their own client.",
  items: [
    tokenRequest(ADMIN, 'The administrative client sets up the directory and the enrolments, as MassHealth\'s enrolment feed would.'),
    tokenRequest(MA_ACO, "The ACO's care management system gets its token: it acts for Organization/ma-aco only."),
    tokenRequest(MA_CP, "The Community Partner's system gets its token: it acts for Organization/ma-cp only."),
    {
      name: 'Directory: the ACO, the Community Partner and their care managers',
      description: 'The ACO (`aco`) and the LTSS Community Partner (`ltss-cp`), a care manager at each, and the PractitionerRoles that say whom each orders for.',
      method: 'POST',
      url: '',
      body: putBundle([
        organization('ma-aco', 'Pioneer Valley Community Care ACO', 'aco'),
        organization('ma-cp', 'Western Mass Independent Living LTSS CP', 'ltss-cp'),
        { resourceType: 'Practitioner', id: 'ma-reyes', name: [{ family: 'Reyes', given: ['Ana'], suffix: ['RN'] }] },
        { resourceType: 'Practitioner', id: 'ma-walsh', name: [{ family: 'Walsh', given: ['Brendan'] }] },
        { resourceType: 'PractitionerRole', id: 'ma-reyes-aco', active: true, practitioner: ref('Practitioner/ma-reyes'), organization: ref('Organization/ma-aco') },
        { resourceType: 'PractitionerRole', id: 'ma-walsh-cp', active: true, practitioner: ref('Practitioner/ma-walsh'), organization: ref('Organization/ma-cp') },
      ]),
      tests: [transactionAll('201', 6)],
    },
    {
      name: 'Enrolments: Kevin in the ACO and with the Community Partner',
      description: 'Kevin and his enrolments: the ACO (`ma-aco`) since July 2025, the LTSS Community Partner (`ma-ltss-cp`) since September 2025.',
      method: 'POST',
      url: '',
      body: putBundle([
        { resourceType: 'Patient', id: 'ma-brooks', name: [{ family: 'Brooks', given: ['Kevin'] }], birthDate: '1978-08-21', managingOrganization: ref('Organization/ma-aco') },
        enrolment('ma-brooks-aco', 'ma-brooks', 'ma-aco', 'ma-aco', '2025-07-01'),
        enrolment('ma-brooks-cp', 'ma-brooks', 'ma-ltss-cp', 'ma-cp', '2025-09-01'),
      ]),
      tests: [transactionAll('201', 3)],
    },
    {
      name: "ACO: its care team (medical care)",
      description: "The ACO's nurse coordinates Kevin's medical care (`medical` scope).",
      as: MA_ACO,
      ...put(acoTeam(false)),
      tests: [status(201), createdHere],
    },
    {
      name: 'Community Partner: its LTSS navigation',
      description: "The Community Partner's navigator records what it coordinates for Kevin: LTSS navigation (`ltss-navigation`, the one scope of an LTSS CP).",
      as: MA_CP,
      ...put(cpTeam('ma-brooks-cp-team', { start: '2025-09-01' })),
      tests: [status(201), createdHere],
    },
    {
      name: 'Community Partner: propose personal care',
      description:
        'The navigator finds that Kevin needs help at home and proposes personal care: intent `proposal`, a start date only, no quantity. A proposal is what a Community Partner may send; the id is kept in `{{maProposalId}}`.',
      as: MA_CP,
      method: 'POST',
      url: 'ServiceRequest',
      body: request('proposal', { code: PERSONAL_CARE, category: 'community-ltss', requester: 'PractitionerRole/ma-walsh-cp', occurrence: { start: '2025-10-01' } }),
      tests: [status(201), saveId('maProposalId'), test('a proposal', json, `pm.expect(body.intent).to.eql('proposal');`)],
    },
    {
      name: 'Community Partner: an order is refused (cp-no-authorization)',
      description:
        'The navigator tries to order the same service with 20 hours a week until the end of March. A Community Partner does not authorize services or define their quantity or duration: refused with `cp-no-authorization`.',
      as: MA_CP,
      method: 'POST',
      url: 'ServiceRequest',
      body: request('order', { code: PERSONAL_CARE, category: 'community-ltss', requester: 'PractitionerRole/ma-walsh-cp', occurrence: { start: '2025-10-01', end: '2026-03-31' }, quantity: true }),
      tests: [refused('cp-no-authorization')],
    },
    {
      name: "ACO: read the Community Partner's proposal",
      description: "The ACO's nurse sees the proposal on Kevin's record (`ServiceRequest/{{maProposalId}}`) and takes it to the LTSS Third Party Administrator, which authorizes community LTSS in Massachusetts.",
      as: MA_ACO,
      method: 'GET',
      url: 'ServiceRequest/{{maProposalId}}',
      tests: [status(200), test('the proposal from the Community Partner', json, `pm.expect(body.intent).to.eql('proposal');`, `pm.expect(body.requester.reference).to.eql('PractitionerRole/ma-walsh-cp');`)],
    },
    {
      name: 'ACO: ordering community LTSS is refused (aco-no-ltss-authorization)',
      description:
        'The ACO orders home-delivered meals (community LTSS) itself. An ACO does not authorize community LTSS or HCBS waiver services: refused with `aco-no-ltss-authorization`.',
      as: MA_ACO,
      method: 'POST',
      url: 'ServiceRequest',
      body: request('order', { code: hcpcs('S5170', 'Home delivered meals'), category: 'community-ltss', requester: 'PractitionerRole/ma-reyes-aco', occurrence: { start: '2026-01-01', end: '2026-06-30' } }),
      tests: [refused('aco-no-ltss-authorization', { expression: 'ServiceRequest.category[0]' })],
    },
    {
      name: "Community Partner: it can read the ACO's care team",
      description: "While it works with Kevin, the Community Partner sees his record, the ACO's care team included.",
      as: MA_CP,
      method: 'GET',
      url: 'CareTeam/ma-brooks-team',
      tests: [status(200), test("the ACO's team", json, `pm.expect(body.managingOrganization[0].reference).to.eql('Organization/ma-aco');`)],
    },
    {
      name: 'Community Partner: end its supports the day before the opt-out',
      description: 'Kevin tells the ACO on 2026-03-10 that he no longer wants Community Partner supports. The Community Partner closes its participation on 2026-03-09.',
      as: MA_CP,
      ...put(cpTeam('ma-brooks-cp-team', { start: '2025-09-01', end: '2026-03-09' })),
      tests: [status(200), test('ends 2026-03-09', json, `pm.expect(body.participant[0].period.end).to.eql('2026-03-09');`)],
    },
    {
      name: 'ACO: record the opt-out',
      description:
        'The ACO records the opt-out: a Consent with scope `treatment`, policy rule OPTOUT, and a deny provision naming the Community Partner from 2026-03-10. Recording an opt-out is never refused.',
      as: MA_ACO,
      ...put({
        resourceType: 'Consent',
        id: 'ma-brooks-cp-optout',
        meta: profile('coordination-consent'),
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'treatment' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
        patient: ref('Patient/ma-brooks'),
        dateTime: '2026-03-10',
        organization: [ref('Organization/ma-aco')],
        policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTOUT' }], text: 'Member declined LTSS CP supports by phone on 2026-03-10' },
        provision: {
          type: 'deny',
          period: { start: '2026-03-10' },
          actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV' }] }, reference: ref('Organization/ma-cp') }],
        },
      }),
      tests: [status(201), createdHere],
    },
    {
      name: "Community Partner: Kevin's care team is gone from its view (404)",
      description:
        "From the opt-out on, the Community Partner no longer sees Kevin's record: reading the ACO's care team answers 404, exactly as for a record that does not exist.",
      as: MA_CP,
      method: 'GET',
      url: 'CareTeam/ma-brooks-team',
      tests: [test('404 with an OperationOutcome', `pm.response.to.have.status(404);`, json, `pm.expect(body.resourceType).to.eql('OperationOutcome');`)],
    },
    {
      name: "ACO: adding the Community Partner to its team is refused (cp-opt-out)",
      description:
        "A month later the ACO's nurse adds the Community Partner's navigator to the ACO's own team from 2026-04-01. While Kevin's opt-out is in force the Community Partner cannot join his care teams or request services for him: refused with `cp-opt-out`, naming the opt-out Consent.",
      as: MA_ACO,
      ...put(acoTeam(true)),
      tests: [refused('cp-opt-out', { expression: 'CareTeam.participant[1].onBehalfOf', diagnosticsInclude: ['Consent/ma-brooks-cp-optout'] })],
    },
    {
      name: "ACO: its team is unchanged",
      description: 'The refused write stored nothing: the ACO\'s team is still version 1 with its nurse alone.',
      as: MA_ACO,
      method: 'GET',
      url: 'CareTeam/ma-brooks-team',
      tests: [status(200), test('version 1, one participant', json, `pm.expect(body.meta.versionId).to.eql('1');`, `pm.expect(body.participant).to.have.lengthOf(1);`)],
    },
    {
      name: "ACO: Kevin's opt-out on his record",
      description: "The ACO lists Kevin's consents: the opt-out is there for every coordinator who still works with him.",
      as: MA_ACO,
      method: 'GET',
      url: 'Consent?patient=Patient/ma-brooks',
      tests: [status(200), test('the opt-out', json, `pm.expect(body.total).to.eql(1);`, `pm.expect(body.entry[0].resource.provision.type).to.eql('deny');`)],
    },
  ],
};

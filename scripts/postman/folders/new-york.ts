// Folder 3: New York. An MLTC partial capitation plan and a Health Home share Carmen Rivera (the
// coordination guide's worked examples), each acting through its own client.
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

export const NY_PLAN: Actor = { key: 'nyPlan', label: 'Hudson River Senior Care MLTC Plan', organization: 'Organization/ny-mltcp' };
export const NY_HH: Actor = { key: 'nyHh', label: 'Bronx Community Partners Health Home', organization: 'Organization/ny-hh' };

const TEAM_PROFILE = profile('coordination-care-team');

function planScopes(period: Record<string, string> = { start: '2026-01-01' }) {
  return { extension: [scope('ltc'), scope('care-transitions')], member: ref('Practitioner/ny-alvarez'), onBehalfOf: ref('Organization/ny-mltcp'), period };
}

function mltcTeam(lead: { designatedBy: string[]; end?: string }) {
  return {
    resourceType: 'CareTeam',
    id: 'ny-rivera-mltc-team',
    meta: TEAM_PROFILE,
    status: 'active',
    name: 'MLTC plan care management team',
    subject: ref('Patient/ny-rivera'),
    managingOrganization: [ref('Organization/ny-mltcp')],
    period: { start: '2026-01-01' },
    participant: [
      planScopes(),
      {
        extension: [
          leadDesignation({ designatedBy: lead.designatedBy, basis: 'QuestionnaireResponse/ny-rivera-cpc-2025', reason: 'Primary needs are long term care', date: '2025-12-15' }),
        ],
        role: LEAD_ROLE,
        member: ref('Practitioner/ny-alvarez'),
        onBehalfOf: ref('Organization/ny-mltcp'),
        period: { start: '2026-01-01', ...(lead.end ? { end: lead.end } : {}) },
      },
    ],
  };
}

/** The Health Home's team for Carmen; with `lead`, Chidi Okafor leads (the handoff's state). Folder 6 ends that lead. */
export function hhTeam(options: { scopes?: string[]; lead?: { basis: string; reason: string; date: string; start: string; end?: string } } = {}) {
  return {
    resourceType: 'CareTeam',
    id: 'ny-rivera-hh-team',
    meta: TEAM_PROFILE,
    status: 'active',
    name: 'Health Home care management team',
    subject: ref('Patient/ny-rivera'),
    managingOrganization: [ref('Organization/ny-hh')],
    period: { start: '2024-10-01' },
    participant: [
      {
        extension: (options.scopes ?? ['bh-and-out-of-plan']).map(scope),
        member: ref('Practitioner/ny-okafor'),
        onBehalfOf: ref('Organization/ny-hh'),
        period: { start: '2024-10-01' },
      },
      ...(options.lead
        ? [
            {
              extension: [leadDesignation({ designatedBy: ['Organization/ny-mltcp', 'Organization/ny-hh'], basis: options.lead.basis, reason: options.lead.reason, date: options.lead.date })],
              role: LEAD_ROLE,
              member: ref('Practitioner/ny-okafor'),
              onBehalfOf: ref('Organization/ny-hh'),
              period: { start: options.lead.start, ...(options.lead.end ? { end: options.lead.end } : {}) },
            },
          ]
        : []),
    ],
  };
}

/** Chidi Okafor's lead as the handoff starts it. */
export const HANDOFF_LEAD = { basis: 'QuestionnaireResponse/ny-rivera-cpc-2026', reason: 'Primary needs are now behavioral health', date: '2026-06-20', start: '2026-07-01' };

const SECOND_LEAD = hhTeam({ lead: { basis: 'QuestionnaireResponse/ny-rivera-cpc-2025', reason: 'Behavioral health needs', date: '2026-02-20', start: '2026-03-01' } });

function split(code: string, display: string, benefit: string, party: string, description: string) {
  return {
    extension: [
      {
        url: `${CONCORD}/StructureDefinition/service-split`,
        extension: [
          { url: 'service', valueCodeableConcept: hcpcs(code, display) },
          { url: 'benefit', valueCoding: { system: `${CONCORD}/CodeSystem/benefit-split`, code: benefit } },
          { url: 'responsibleParty', valueReference: ref(party) },
        ],
      },
    ],
    detail: { status: 'in-progress', description },
  };
}

function asaPlan(appendix: 'A' | 'B', personalCareParty = 'Organization/ny-mltcp') {
  return {
    resourceType: 'CarePlan',
    id: 'ny-rivera-asa',
    meta: profile('service-split-care-plan'),
    extension: [
      { url: `${CONCORD}/StructureDefinition/asa-appendix`, valueCoding: { system: `${CONCORD}/CodeSystem/asa-appendix`, code: appendix } },
      { url: `${CONCORD}/StructureDefinition/asa-parties`, valueReference: ref('Organization/ny-mltcp') },
      { url: `${CONCORD}/StructureDefinition/asa-parties`, valueReference: ref('Organization/ny-hh') },
    ],
    status: 'active',
    intent: 'plan',
    category: [concept('care-plan-category', 'comprehensive')],
    title: `Person-centered service plan with ASA Appendix ${appendix}`,
    subject: ref('Patient/ny-rivera'),
    period: { start: '2026-01-01' },
    careTeam: [ref('CareTeam/ny-rivera-mltc-team'), ref('CareTeam/ny-rivera-hh-team')],
    activity: [
      split('T1019', 'Personal care services, per 15 minutes', 'in-plan', personalCareParty, 'Personal care aide, 20 hours per week'),
      split('S5170', 'Home delivered meals', 'in-plan', 'Organization/ny-mltcp', 'Home-delivered meals, 5 per week'),
      split('H0004', 'Behavioral health counseling and therapy, per 15 minutes', 'out-of-plan', 'Organization/ny-hh', 'Outpatient psychotherapy (fee-for-service)'),
    ],
  };
}

function personalCareOrder(requester: string, start: string, end: string) {
  return {
    resourceType: 'ServiceRequest',
    meta: profile('coordinated-service-request'),
    status: 'active',
    intent: 'order',
    category: [concept('service-category', 'community-ltss')],
    code: hcpcs('T1019', 'Personal care services, per 15 minutes'),
    subject: ref('Patient/ny-rivera'),
    occurrencePeriod: { start, end },
    requester: ref(requester),
    basedOn: [ref('CarePlan/ny-rivera-asa')],
  };
}

const cpcForm = (id: string, authored: string, needs: string, lead: string) => ({
  resourceType: 'QuestionnaireResponse',
  id,
  status: 'completed',
  subject: ref('Patient/ny-rivera'),
  authored,
  item: [
    { linkId: 'primary-needs', text: 'Primary needs of the client', answer: [{ valueString: needs }] },
    { linkId: 'lead-care-manager', text: 'Lead care manager', answer: [{ valueReference: ref(lead) }] },
  ],
});

const practitioner = (id: string, family: string, given: string, suffix: string, taxonomy: string, display: string) => ({
  resourceType: 'Practitioner',
  id,
  name: [{ family, given: [given], suffix: [suffix] }],
  qualification: [{ code: { coding: [{ system: NUCC, code: taxonomy, display }] } }],
});

export const newYork: Folder = {
  name: '3. New York',
  description:
    "Carmen Rivera is enrolled in an MLTC partial capitation plan (long term care) and a Health Home (behavioral health and services outside the plan). New York's guidance asks the two to choose one lead care manager jointly, document it on the Care Planning and Coordination form, split the services in Appendix A of their Administrative Services Agreement, and never duplicate care management. The plan and the Health Home each act through their own client.",
  items: [
    tokenRequest(ADMIN, 'The administrative client sets up the directory and the enrolments, as the state\'s enrolment feed would.'),
    tokenRequest(NY_PLAN, "The MLTC plan's care management system gets its token: it acts for Organization/ny-mltcp only."),
    tokenRequest(NY_HH, "The Health Home's care management system gets its token: it acts for Organization/ny-hh only."),
    {
      name: 'Directory: the plan, the Health Home and their care managers',
      description:
        "The organizations with their roles (`Organization.type` from the `organization-role` code system: `mltcp-plan`, `health-home`, and a `map-plan` for contrast), one care manager at each (Practitioner with qualifications, and a PractitionerRole saying whom they work for). Client-chosen ids (PUT) so the clients' registrations can name `Organization/ny-mltcp` and `Organization/ny-hh` in advance.",
      method: 'POST',
      url: '',
      body: putBundle([
        organization('ny-mltcp', 'Hudson River Senior Care MLTC Plan', 'mltcp-plan'),
        organization('ny-hh', 'Bronx Community Partners Health Home', 'health-home'),
        practitioner('ny-alvarez', 'Alvarez', 'Maria', 'RN', '163W00000X', 'Registered Nurse'),
        practitioner('ny-okafor', 'Okafor', 'Chidi', 'LCSW', '1041C0700X', 'Clinical Social Worker'),
        { resourceType: 'PractitionerRole', id: 'ny-alvarez-mltcp', active: true, practitioner: ref('Practitioner/ny-alvarez'), organization: ref('Organization/ny-mltcp') },
        { resourceType: 'PractitionerRole', id: 'ny-okafor-hh', active: true, practitioner: ref('Practitioner/ny-okafor'), organization: ref('Organization/ny-hh') },
      ]),
      tests: [transactionAll('201', 6)],
    },
    {
      name: 'Enrolments: Carmen in the MLTC plan and the Health Home',
      description:
        'The member and her two program enrolments (EpisodeOfCare, `type` from the `program` code system, `managingOrganization` the plan or the Health Home). An enrolment is what relates an organization to a member: from now on each client sees Carmen\'s record.',
      method: 'POST',
      url: '',
      body: putBundle([
        {
          resourceType: 'Patient',
          id: 'ny-rivera',
          identifier: [{ system: 'https://concord-fhir.org/seed/sid/ny-medicaid-cin', value: 'AB12345C' }],
          name: [{ family: 'Rivera', given: ['Carmen'] }],
          birthDate: '1944-03-12',
          managingOrganization: ref('Organization/ny-mltcp'),
        },
        enrolment('ny-rivera-mltcp', 'ny-rivera', 'ny-mltcp', 'ny-mltcp', '2025-04-01'),
        enrolment('ny-rivera-hh', 'ny-rivera', 'ny-health-home', 'ny-hh', '2024-10-01'),
      ]),
      tests: [transactionAll('201', 3)],
    },
    {
      name: 'Health Home: the Care Planning and Coordination form',
      description:
        "The Health Home records the Care Planning and Coordination form on which it and the plan chose Carmen's lead care manager (a QuestionnaireResponse). The lead designation will point at it as its `basis`.",
      as: NY_HH,
      ...put(cpcForm('ny-rivera-cpc-2025', '2025-12-15', 'Long term care: hands-on help with bathing, dressing and meals after a stroke; lives alone.', 'Practitioner/ny-alvarez')),
      tests: [status(201), createdHere],
    },
    {
      name: "Health Home: its care team (behavioral health and out-of-plan services)",
      description:
        "The Health Home's care manager coordinates behavioral health and the services outside the plan's benefit (`coordination-scope` `bh-and-out-of-plan`). Every participant has a member, the organization it acts for (`onBehalfOf`) and a `period.start`.",
      as: NY_HH,
      ...put(hhTeam()),
      tests: [status(201), test('stored as sent', 'const body = pm.response.json();', `pm.expect(body.participant).to.have.lengthOf(1);`, `pm.expect(body.participant[0].onBehalfOf.reference).to.eql('Organization/ny-hh');`)],
    },
    {
      name: 'Plan: a lead designated by the plan alone is refused (lead-documented)',
      description:
        "The plan makes its nurse Maria Alvarez the lead, naming only itself in `designatedBy`. Carmen has both an MLTC plan and a Health Home, so New York requires a joint choice: refused with `lead-documented`, nothing stored. The diagnostics name the Health Home whose designation is missing.",
      as: NY_PLAN,
      ...put(mltcTeam({ designatedBy: ['Organization/ny-mltcp'] })),
      tests: [refused('lead-documented', { diagnosticsInclude: ['Organization/ny-hh'] })],
    },
    {
      name: 'Plan: the jointly designated lead',
      description:
        "With both the plan and the Health Home in `designatedBy` and the form as `basis`, the team is stored. The first participant holds the plan's scopes (long term care, care transitions); the second is the lead assignment, kept apart so a later handoff ends only it.",
      as: NY_PLAN,
      ...put(mltcTeam({ designatedBy: ['Organization/ny-mltcp', 'Organization/ny-hh'] })),
      tests: [
        status(201),
        test(
          'the lead participant with its designation',
          json,
          `const lead = body.participant.find(function (p) { return (p.role || []).some(function (r) { return r.coding.some(function (c) { return c.code === 'lead-care-manager'; }); }); });`,
          `pm.expect(lead.member.reference).to.eql('Practitioner/ny-alvarez');`,
          `const designation = lead.extension.find(function (e) { return e.url === '${CONCORD}/StructureDefinition/lead-designation'; });`,
          `pm.expect(designation.extension.filter(function (e) { return e.url === 'designatedBy'; })).to.have.lengthOf(2);`,
          `pm.collectionVariables.set('nyLeadTeamVersion', body.meta.versionId);`,
        ),
      ],
    },
    {
      name: 'Health Home: check a second lead with $validate first',
      description:
        "Before saving, the Health Home's system asks whether making its own care manager lead from 2026-03-01 would be accepted. `$validate` runs every coordination rule without writing and answers 200 with the issues: `single-lead`, naming the plan's current lead.",
      as: NY_HH,
      method: 'POST',
      url: 'CareTeam/$validate',
      body: SECOND_LEAD,
      tests: [
        status(200),
        test(
          'reports single-lead without writing',
          json,
          `const issue = body.issue.find(function (i) { return ((i.details || {}).coding || []).some(function (c) { return c.code === 'single-lead'; }); });`,
          `pm.expect(issue, 'a single-lead issue').to.be.an('object');`,
          `pm.expect(issue.diagnostics).to.include('CareTeam/ny-rivera-mltc-team');`,
        ),
      ],
    },
    {
      name: 'Health Home: a second lead is refused (single-lead)',
      description:
        "Saving it anyway is refused: a member has one lead care manager at any instant, across all their care teams. The answer names the team and participant already holding the lead, so the Health Home knows whom to call.",
      as: NY_HH,
      ...put(SECOND_LEAD),
      tests: [refused('single-lead', { expression: 'CareTeam.participant[1].role', diagnosticsInclude: ['CareTeam/ny-rivera-mltc-team'] })],
    },
    {
      name: "Health Home: the refused write changed nothing",
      description: "The Health Home reads its team back: still version 1, one participant.",
      as: NY_HH,
      method: 'GET',
      url: 'CareTeam/ny-rivera-hh-team',
      tests: [status(200), test('version 1, no lead', json, `pm.expect(body.meta.versionId).to.eql('1');`, `pm.expect(body.participant).to.have.lengthOf(1);`)],
    },
    {
      name: 'Plan: a scope outside its role is refused (scope-allowed-for-role)',
      description:
        'An MLTC plan coordinates long term care and care transitions; medical care is not its role in New York. A team where the plan holds `medical` is refused with `scope-allowed-for-role`.',
      as: NY_PLAN,
      ...put({
        resourceType: 'CareTeam',
        id: 'ny-rivera-mltc-medical',
        meta: TEAM_PROFILE,
        status: 'active',
        name: 'MLTC plan medical follow-up',
        subject: ref('Patient/ny-rivera'),
        participant: [{ extension: [scope('medical')], member: ref('Practitioner/ny-alvarez'), onBehalfOf: ref('Organization/ny-mltcp'), period: { start: '2026-02-01' } }],
      }),
      tests: [refused('scope-allowed-for-role', { diagnosticsInclude: ['mltcp-plan'] })],
    },
    {
      name: 'Health Home: a scope the plan already holds is refused (single-coordinator-per-scope)',
      description:
        "Care transitions are allowed for a Health Home too, but the plan already coordinates them for Carmen. Two organizations coordinating the same thing is exactly what the guidance forbids: refused with `single-coordinator-per-scope`, naming the plan's participant.",
      as: NY_HH,
      ...put(hhTeam({ scopes: ['bh-and-out-of-plan', 'care-transitions'] })),
      tests: [refused('single-coordinator-per-scope', { diagnosticsInclude: ['CareTeam/ny-rivera-mltc-team'] })],
    },
    {
      name: 'Plan: the wrong ASA appendix is refused (asa-appendix-matches-plan)',
      description:
        'The plan writes the service split of its Administrative Services Agreement with the Health Home. An MLTC partial capitation plan uses Appendix A (Appendix B is for MAP plans): Appendix B is refused with `asa-appendix-matches-plan`.',
      as: NY_PLAN,
      ...put(asaPlan('B')),
      tests: [refused('asa-appendix-matches-plan')],
    },
    {
      name: 'Plan: an in-plan service given to the Health Home is refused (split-complete)',
      description:
        "Personal care is in the MLTC benefit, so it is the plan's responsibility; naming the Health Home as its responsible party contradicts the split: refused with `split-complete`.",
      as: NY_PLAN,
      ...put(asaPlan('A', 'Organization/ny-hh')),
      tests: [refused('split-complete', { expression: 'CarePlan.activity[0].extension[0]' })],
    },
    {
      name: 'Plan: the Appendix A service split',
      description:
        "The split as agreed: personal care and home-delivered meals in-plan (the plan's), outpatient psychotherapy out-of-plan (the Health Home's). It is also Carmen's one comprehensive plan of care.",
      as: NY_PLAN,
      ...put(asaPlan('A')),
      tests: [status(201), test('Appendix A with three split activities', json, `pm.expect(body.activity).to.have.lengthOf(3);`, `pm.expect(body.extension[0].valueCoding.code).to.eql('A');`)],
    },
    {
      name: 'Health Home: a second comprehensive plan is refused (single-comprehensive-plan)',
      description:
        'The Health Home starts its own comprehensive plan of care for Carmen. New York wants a single comprehensive plan: refused with `single-comprehensive-plan`, naming the ASA plan.',
      as: NY_HH,
      ...put({
        resourceType: 'CarePlan',
        id: 'ny-rivera-hh-plan',
        status: 'active',
        intent: 'plan',
        category: [concept('care-plan-category', 'comprehensive')],
        title: 'Health Home plan of care',
        subject: ref('Patient/ny-rivera'),
        period: { start: '2026-02-01' },
      }),
      tests: [refused('single-comprehensive-plan', { diagnosticsInclude: ['CarePlan/ny-rivera-asa'] })],
    },
    {
      name: 'Plan: order personal care under the split',
      description:
        "The plan's care manager orders personal care, based on the split (`basedOn`). The requester is her PractitionerRole, which says which organization she orders for. The server assigns the id, kept in `{{nyOrderId}}`.",
      as: NY_PLAN,
      method: 'POST',
      url: 'ServiceRequest',
      body: personalCareOrder('PractitionerRole/ny-alvarez-mltcp', '2026-10-01', '2027-03-31'),
      tests: [status(201), saveId('nyOrderId')],
    },
    {
      name: 'Health Home: the same service by the wrong responsible party (request-matches-split)',
      description: 'The Health Home orders personal care too. The split makes the plan responsible for it: refused with `request-matches-split`.',
      as: NY_HH,
      method: 'POST',
      url: 'ServiceRequest',
      body: personalCareOrder('PractitionerRole/ny-okafor-hh', '2027-04-01', '2027-09-30'),
      tests: [refused('request-matches-split', { expression: 'ServiceRequest.requester', diagnosticsInclude: ['CarePlan/ny-rivera-asa'] })],
    },
    {
      name: 'Plan: a duplicate order is refused (no-duplicate-service)',
      description:
        'A second personal care order from the plan overlapping the first (January to June 2027) would authorize the same service twice: refused with `no-duplicate-service` (issue code `duplicate`), naming the existing order `ServiceRequest/{{nyOrderId}}`. To change an order, send one that `replaces` it.',
      as: NY_PLAN,
      method: 'POST',
      url: 'ServiceRequest',
      body: personalCareOrder('PractitionerRole/ny-alvarez-mltcp', '2027-01-01', '2027-06-30'),
      tests: [refused('no-duplicate-service', { code: 'duplicate', diagnosticsInclude: [`pm.collectionVariables.get('nyOrderId')`] })],
    },
    {
      name: 'Health Home: the lead handoff in one transaction',
      description:
        "In June 2026 both organizations agree that Carmen's behavioral health now comes first: Chidi Okafor (Health Home) leads from 2026-07-01. One transaction records the new form, ends Maria Alvarez's lead on 2026-06-30 (that whole day is still hers) and starts Chidi Okafor's on 2026-07-01. The rules judge the state the Bundle leaves, so the handoff is accepted; sent as separate requests, starting the new lead first would be refused.",
      as: NY_HH,
      method: 'POST',
      url: '',
      body: putBundle([
        cpcForm('ny-rivera-cpc-2026', '2026-06-20', 'Behavioral health: depression relapse after a hospital stay; long term care stable.', 'Practitioner/ny-okafor'),
        mltcTeam({ designatedBy: ['Organization/ny-mltcp', 'Organization/ny-hh'], end: '2026-06-30' }),
        hhTeam({ lead: HANDOFF_LEAD }),
      ]),
      tests: [
        test(
          'the form created, both teams updated',
          `pm.response.to.have.status(200);`,
          json,
          `pm.expect(body.type).to.eql('transaction-response');`,
          `pm.expect(body.entry.map(function (e) { return e.response.status.split(' ')[0]; })).to.eql(['201', '200', '200']);`,
        ),
      ],
    },
    {
      name: "Plan: its lead assignment now ends on 2026-06-30",
      description: "The plan reads its team after the handoff: Maria Alvarez's lead participant ends on 2026-06-30, her scopes continue.",
      as: NY_PLAN,
      method: 'GET',
      url: 'CareTeam/ny-rivera-mltc-team',
      tests: [
        status(200),
        test(
          'lead ended, scopes ongoing, a new version',
          json,
          `pm.expect(Number(body.meta.versionId)).to.be.above(Number(pm.collectionVariables.get('nyLeadTeamVersion')));`,
          `pm.expect(body.participant[1].period.end).to.eql('2026-06-30');`,
          `pm.expect(body.participant[0].period.end).to.be.undefined;`,
        ),
      ],
    },
    {
      name: "Who leads Carmen's care now (search)",
      description:
        "Any of Carmen's coordinators can list her active care teams and see who leads when: the plan's nurse until 2026-06-30, the Health Home's social worker from 2026-07-01.",
      as: NY_PLAN,
      method: 'GET',
      url: 'CareTeam?patient=Patient/ny-rivera&status=active&_sort=_id',
      tests: [
        status(200),
        test(
          'two teams, one lead after the other',
          json,
          `pm.expect(body.entry.map(function (e) { return e.resource.id; })).to.eql(['ny-rivera-hh-team', 'ny-rivera-mltc-team']);`,
          `const leads = [];`,
          `body.entry.forEach(function (e) { e.resource.participant.forEach(function (p) { if ((p.role || []).some(function (r) { return r.coding.some(function (c) { return c.code === 'lead-care-manager'; }); })) leads.push(p.member.reference + ' ' + p.period.start + '..' + (p.period.end || '')); }); });`,
          `pm.expect(leads.sort()).to.eql(['Practitioner/ny-alvarez 2026-01-01..2026-06-30', 'Practitioner/ny-okafor 2026-07-01..']);`,
        ),
      ],
    },
    {
      name: "Carmen's Care Planning and Coordination form (FHIR document)",
      description:
        "The guidance asks both parties to document the lead, and their collaborative approach, on the client-level Care Planning and Coordination form. `$coordination-form` assembles it from Carmen's record as it stood on a day (`date`; without it, now): a FHIR document whose Composition has one section per part of the form (member, lead care manager with who designated them and why, care team, service split, service requests, consents and opt-outs), each with readable narrative, followed by the resources it was taken from. It shows only what the caller may read.",
      as: NY_HH,
      method: 'GET',
      url: 'Patient/ny-rivera/$coordination-form?date=2026-08-01',
      tests: [
        status(200),
        test(
          'a document: the Health Home lead designated by both, the Appendix A split',
          json,
          `pm.expect(body.type).to.eql('document');`,
          `const composition = body.entry[0].resource;`,
          `pm.expect(composition.resourceType).to.eql('Composition');`,
          `const section = function (title) { return composition.section.find(function (s) { return s.title === title; }); };`,
          `pm.expect(section('Lead care manager').entry.map(function (e) { return e.reference; })).to.eql(['CareTeam/ny-rivera-hh-team']);`,
          `pm.expect(section('Lead care manager').text.div).to.include('Organization/ny-mltcp').and.include('Organization/ny-hh').and.include('QuestionnaireResponse/ny-rivera-cpc-2026');`,
          `pm.expect(section('Service split (ASA appendix)').entry.map(function (e) { return e.reference; })).to.eql(['CarePlan/ny-rivera-asa']);`,
        ),
      ],
    },
    {
      name: "Carmen's form, printable (HTML)",
      description:
        'The same form as a page to print and sign: add `_format=html` (or send `Accept: text/html`, as a browser does). The page is self-contained (inline CSS, nothing fetched, nothing run) and ends with signature lines for both parties to the ASA. Open it in a browser and print it.',
      as: NY_HH,
      method: 'GET',
      url: 'Patient/ny-rivera/$coordination-form?date=2026-08-01&_format=html',
      tests: [
        status(200),
        test(
          'a printable page under a strict Content-Security-Policy',
          `pm.expect(pm.response.headers.get('Content-Type')).to.include('text/html');`,
          `pm.expect(pm.response.headers.get('Content-Security-Policy')).to.include("default-src 'none'");`,
          `pm.expect(pm.response.text()).to.include('<h1>Care Planning and Coordination form</h1>').and.include('<h2>Signatures</h2>');`,
        ),
      ],
    },
  ],
};

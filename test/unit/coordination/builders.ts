// Small builders of realistic NY / MA / MN coordination resources for the rule tests.
import type {
  CarePlan,
  CareTeam,
  CareTeamParticipant,
  Consent,
  EpisodeOfCare,
  Extension,
  OperationOutcomeIssue,
  Organization,
  Period,
  Practitioner,
  PractitionerRole,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { CodeSystems, Extensions, Profiles } from '../../../src/coordination/codes.js';
import type { OrganizationRole, ProgramCode } from '../../../src/coordination/codes.js';
import type { CheckOptions, ProposedWrite } from '../../../src/coordination/engine.js';
import { checkWrites } from '../../../src/coordination/engine.js';
import { MemoryReader } from '../../../src/coordination/memory-reader.js';
import type { Rule } from '../../../src/coordination/rules/types.js';

export const MEMBER = 'member-1';

export function org(id: string, role: OrganizationRole, name: string): Organization {
  return {
    resourceType: 'Organization',
    id,
    name,
    active: true,
    type: [{ coding: [{ system: CodeSystems.organizationRole, code: role }] }],
  };
}

/** Organizations of the three states, by id. */
export const ORGS = {
  // New York
  mltcp: org('ny-vns-mltc', 'mltcp-plan', 'VNS Health MLTC'),
  map: org('ny-elderplan-map', 'map-plan', 'Elderplan Medicaid Advantage Plus'),
  hh: org('ny-cbc-hh', 'health-home', 'Coordinated Behavioral Care Health Home'),
  hh2: org('ny-cmo-hh', 'health-home', 'Community Care Management Partners Health Home'),
  // Massachusetts
  aco: org('ma-bmc-aco', 'aco', 'BMC HealthNet Plan ACO'),
  mco: org('ma-tufts-mco', 'mco', 'Tufts Health Together MCO'),
  ltssCp: org('ma-bshc-cp', 'ltss-cp', 'Boston Senior Home Care LTSS CP'),
  ltssCp2: org('ma-ccc-cp', 'ltss-cp', 'Central Community Connections LTSS CP'),
  bhCp: org('ma-bhcp', 'bh-cp', 'Boston BH Community Partner'),
  asap: org('ma-springwell', 'waiver-agency', 'Springwell ASAP'),
  tpa: org('ma-tpa', 'tpa', 'MassHealth LTSS TPA'),
  provider: org('ma-pca-agency', 'ltss-provider', 'Greater Boston PCA Agency'),
  // Minnesota
  mnMco: org('mn-ucare', 'mco', 'UCare'),
  mnMco2: org('mn-bcbs', 'mco', 'Blue Plus'),
  county: org('mn-hennepin', 'county', 'Hennepin County Human Services'),
  tribe: org('mn-white-earth', 'tribal-nation', 'White Earth Nation Human Services'),
} as const;

export const nucc = (code: string) => ({ system: CodeSystems.nucc, code });
export const assessor = { system: CodeSystems.qualification, code: 'certified-assessor' };

export function practitioner(id: string, quals: Array<{ coding: { system: string; code: string }; period?: Period }> = []): Practitioner {
  return {
    resourceType: 'Practitioner',
    id,
    name: [{ family: id }],
    qualification: quals.map((q) => ({ code: { coding: [q.coding] }, ...(q.period ? { period: q.period } : {}) })),
  };
}

export function practitionerRole(id: string, practitionerId: string, orgId: string, extra: Partial<PractitionerRole> = {}): PractitionerRole {
  return {
    resourceType: 'PractitionerRole',
    id,
    practitioner: { reference: `Practitioner/${practitionerId}` },
    organization: { reference: `Organization/${orgId}` },
    ...extra,
  };
}

export const PEOPLE = {
  // NY care managers
  nyRn: practitioner('ny-rn-alvarez', [{ coding: nucc('163W00000X') }]),
  nySw: practitioner('ny-sw-okafor', [{ coding: nucc('104100000X') }]),
  // MA
  maCm: practitioner('ma-cm-nguyen', [{ coding: nucc('104100000X') }]),
  maCpNavigator: practitioner('ma-cp-navigator'),
  // MN
  mnRnAssessor: practitioner('mn-rn-lindqvist', [{ coding: nucc('163W00000X') }, { coding: assessor }]),
  mnSwNoAssessor: practitioner('mn-sw-johnson', [{ coding: nucc('1041C0700X') }]),
  mnClerk: practitioner('mn-clerk-berg'),
};

export const ROLES = {
  nyRnAtMltcp: practitionerRole('ny-rn-alvarez-vns', 'ny-rn-alvarez', 'ny-vns-mltc'),
  nySwAtHh: practitionerRole('ny-sw-okafor-cbc', 'ny-sw-okafor', 'ny-cbc-hh'),
  cpNavigator: practitionerRole('ma-cp-navigator-bshc', 'ma-cp-navigator', 'ma-bshc-cp'),
  acoCm: practitionerRole('ma-cm-nguyen-bmc', 'ma-cm-nguyen', 'ma-bmc-aco'),
  mnRnAtUcare: practitionerRole('mn-rn-lindqvist-ucare', 'mn-rn-lindqvist', 'mn-ucare'),
  mnSwAtUcare: practitionerRole('mn-sw-johnson-ucare', 'mn-sw-johnson', 'mn-ucare'),
};

export const ref = (r: Resource | string): { reference: string } =>
  ({ reference: typeof r === 'string' ? r : `${r.resourceType}/${r.id ?? ''}` });

export function leadDesignation(designatedBy: Organization[], omit: string[] = []): Extension {
  const parts: Extension[] = [
    ...designatedBy.map((o) => ({ url: 'designatedBy', valueReference: ref(o) })),
    { url: 'basis', valueReference: { reference: 'QuestionnaireResponse/cpc-form-1' } },
    { url: 'reason', valueString: 'Primary needs are long term care: personal care and home-delivered meals' },
    { url: 'date', valueDate: '2026-01-05' },
  ];
  return { url: Extensions.leadDesignation, extension: parts.filter((p) => !omit.includes(p.url)) };
}

export const scopeExt = (code: string): Extension => ({
  url: Extensions.coordinationScope,
  valueCoding: { system: CodeSystems.coordinationScope, code },
});

export interface ParticipantSpec {
  member: Resource;
  /**
   * The organization the participant acts for. Written as onBehalfOf only for a Practitioner member
   * (R4 ctm-1): a PractitionerRole member acts for its role's organization, an Organization for itself.
   */
  onBehalfOf?: Organization;
  lead?: boolean;
  /** Organizations that designated the lead; defaults to [onBehalfOf]. */
  designatedBy?: Organization[];
  designation?: Extension | false;
  scopes?: string[];
  period?: Period;
}

export function participant(spec: ParticipantSpec): CareTeamParticipant {
  const ext: Extension[] = (spec.scopes ?? []).map(scopeExt);
  if (spec.lead && spec.designation !== false) {
    ext.unshift(spec.designation ?? leadDesignation(spec.designatedBy ?? (spec.onBehalfOf ? [spec.onBehalfOf] : [])));
  }
  return {
    ...(ext.length ? { extension: ext } : {}),
    ...(spec.lead ? { role: [{ coding: [{ system: CodeSystems.careTeamRole, code: 'lead-care-manager' }] }] } : {}),
    member: ref(spec.member),
    ...(spec.onBehalfOf && spec.member.resourceType === 'Practitioner' ? { onBehalfOf: ref(spec.onBehalfOf) } : {}),
    period: spec.period ?? { start: '2026-01-01' },
  };
}

export function careTeam(
  id: string,
  participants: ParticipantSpec[],
  opts: { status?: CareTeam['status']; period?: Period; patient?: string } = {},
): CareTeam {
  return {
    resourceType: 'CareTeam',
    id,
    meta: { profile: [Profiles.coordinationCareTeam] },
    status: opts.status ?? 'active',
    subject: { reference: `Patient/${opts.patient ?? MEMBER}` },
    ...(opts.period ? { period: opts.period } : {}),
    participant: participants.map(participant),
  };
}

export function episode(id: string, program: ProgramCode, managing: Organization, period: Period = { start: '2025-01-01' }, status: EpisodeOfCare['status'] = 'active'): EpisodeOfCare {
  return {
    resourceType: 'EpisodeOfCare',
    id,
    status,
    type: [{ coding: [{ system: CodeSystems.program, code: program }] }],
    patient: { reference: `Patient/${MEMBER}` },
    managingOrganization: ref(managing),
    period,
  };
}

export const hcpcs = (code: string) => ({ coding: [{ system: CodeSystems.hcpcs, code }] });

export interface ActivitySpec {
  service?: string;
  benefit?: string;
  party?: Organization;
}

export function splitActivity(a: ActivitySpec): NonNullable<CarePlan['activity']>[number] {
  const parts: Extension[] = [];
  if (a.service) parts.push({ url: 'service', valueCodeableConcept: hcpcs(a.service) });
  if (a.benefit) parts.push({ url: 'benefit', valueCoding: { system: CodeSystems.benefitSplit, code: a.benefit } });
  if (a.party) parts.push({ url: 'responsibleParty', valueReference: ref(a.party) });
  return { extension: [{ url: Extensions.serviceSplit, extension: parts }], detail: { status: 'in-progress', ...(a.service ? { code: hcpcs(a.service) } : {}) } };
}

export function splitPlan(
  id: string,
  opts: {
    appendix?: 'A' | 'B' | undefined;
    parties: Organization[];
    activities: ActivitySpec[];
    status?: CarePlan['status'];
    period?: Period;
    comprehensive?: boolean;
  },
): CarePlan {
  const ext: Extension[] = [];
  if (opts.appendix) ext.push({ url: Extensions.asaAppendix, valueCoding: { system: CodeSystems.asaAppendix, code: opts.appendix } });
  for (const p of opts.parties) ext.push({ url: Extensions.asaParties, valueReference: ref(p) });
  return {
    resourceType: 'CarePlan',
    id,
    meta: { profile: [Profiles.serviceSplitCarePlan] },
    extension: ext,
    status: opts.status ?? 'active',
    intent: 'plan',
    category: opts.comprehensive === false ? [] : [{ coding: [{ system: CodeSystems.carePlanCategory, code: 'comprehensive' }] }],
    subject: { reference: `Patient/${MEMBER}` },
    period: opts.period ?? { start: '2026-01-01' },
    careTeam: [{ reference: 'CareTeam/ny-team' }],
    activity: opts.activities.map(splitActivity),
  };
}

export function comprehensivePlan(id: string, period: Period, status: CarePlan['status'] = 'active'): CarePlan {
  return {
    resourceType: 'CarePlan',
    id,
    status,
    intent: 'plan',
    category: [{ coding: [{ system: CodeSystems.carePlanCategory, code: 'comprehensive' }] }],
    subject: { reference: `Patient/${MEMBER}` },
    period,
  };
}

export function serviceRequest(
  id: string,
  opts: {
    code: string;
    requester: Resource;
    intent?: ServiceRequest['intent'];
    status?: ServiceRequest['status'];
    period?: Period;
    occurrenceDateTime?: string;
    category?: string;
    basedOn?: string;
    replaces?: string;
    extra?: Partial<ServiceRequest>;
  },
): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    id,
    meta: { profile: [Profiles.coordinatedServiceRequest] },
    status: opts.status ?? 'active',
    intent: opts.intent ?? 'order',
    ...(opts.category ? { category: [{ coding: [{ system: CodeSystems.serviceCategory, code: opts.category }] }] } : {}),
    code: hcpcs(opts.code),
    subject: { reference: `Patient/${MEMBER}` },
    ...(opts.occurrenceDateTime ? { occurrenceDateTime: opts.occurrenceDateTime } : { occurrencePeriod: opts.period ?? { start: '2026-02-01', end: '2026-07-31' } }),
    requester: ref(opts.requester),
    ...(opts.basedOn ? { basedOn: [{ reference: opts.basedOn }] } : {}),
    ...(opts.replaces ? { replaces: [{ reference: opts.replaces }] } : {}),
    ...opts.extra,
  };
}

export function optOut(id: string, from: Organization, start: string, status: Consent['status'] = 'active'): Consent {
  return {
    resourceType: 'Consent',
    id,
    meta: { profile: [Profiles.coordinationConsent] },
    status,
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'treatment' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${MEMBER}` },
    dateTime: start,
    policyRule: { coding: [{ system: CodeSystems.v3ActCode, code: 'OPTOUT' }] },
    provision: { type: 'deny', period: { start }, actor: [{ role: { coding: [{ code: 'PRCP' }] }, reference: ref(from) }] },
  };
}

/** A reader holding all reference orgs/people plus the given member resources. */
export function world(...resources: Resource[]): MemoryReader {
  return new MemoryReader([...Object.values(ORGS), ...Object.values(PEOPLE), ...Object.values(ROLES), ...resources]);
}

export const create = (resource: Resource): ProposedWrite => ({
  operation: 'create',
  resourceType: resource.resourceType,
  id: resource.id ?? 'new',
  resource,
});

export const update = (resource: Resource, previous: Resource): ProposedWrite => ({
  operation: 'update',
  resourceType: resource.resourceType,
  id: resource.id ?? 'new',
  resource,
  previous,
});

export const remove = (previous: Resource): ProposedWrite => ({
  operation: 'delete',
  resourceType: previous.resourceType,
  id: previous.id ?? 'gone',
  previous,
});

/** Runs the given rule alone (or all rules) over the writes against the world. */
export async function check(reader: MemoryReader, writes: ProposedWrite[], rule?: Rule): Promise<OperationOutcomeIssue[]> {
  const options: CheckOptions = rule ? { rules: [rule] } : {};
  return checkWrites(writes, reader, options);
}

export const ruleIdsOf = (issues: OperationOutcomeIssue[]): string[] =>
  issues.map((i) => i.details?.coding?.[0]?.code ?? '?');

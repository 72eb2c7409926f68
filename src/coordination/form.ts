// The client-level Care Planning and Coordination form (New York DOH, "Guidance for Providing Care
// Coordination and Management to Medicaid Members Enrolled in MLTC Plans and Health Homes": the lead care
// manager "must be documented on the Care Planning and Coordination form"; plans and Health Homes
// "document the collaborative approach to care coordination ... using the client level Care Planning and
// Coordination form"): what a member's coordination record says in force at an instant or on a day.
// Pure: the caller passes the records the viewer may see and the directory entries they reference;
// rendering (FHIR document, printable HTML) is src/fhir/coordination-form.
import { formatHumanName } from '@medplum/core';
import type { CarePlan, CareTeam, CodeableConcept, Coding, Consent, EpisodeOfCare, Patient, PractitionerRole, Reference, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { isLeadParticipant, participantRange, scopesOf } from './care-team.js';
import { CodeSystems, Extensions } from './codes.js';
import { firstExtension, subExtensions } from './extensions.js';
import { participantOrganization } from './organizations.js';
import { describePeriod, overlaps, periodRange, type Range } from './period.js';
import type { MemberRecord } from './reader.js';
import { parseRef, refKey, resourceKey } from './refs.js';
import { optOuts } from './rules/cp-opt-out.js';
import { describeOccurrence, describeService, occurrenceRange } from './service-requests.js';
import { comprehensiveCategoryIndex, isServiceSplitPlan, splitPlan } from './service-split.js';
import { isActiveCarePlan, isActiveCareTeam, isActiveEpisode, isActiveServiceRequest, isDataSharingConsent, isInError } from './status.js';

/** Someone or something the form names: its reference when it has one, and words a person reads. */
export interface Party {
  readonly reference?: string;
  readonly display: string;
}

export interface EnrolmentRow {
  readonly source: string;
  readonly program: string;
  readonly organization?: Party;
  readonly period: string;
}

export interface LeadRow {
  readonly source: string;
  readonly careManager: Party;
  readonly organization?: Party;
  /** The organizations that jointly chose the lead (lead-designation designatedBy). */
  readonly designatedBy: readonly Party[];
  /** The signed form the designation rests on (a DocumentReference or QuestionnaireResponse). */
  readonly basis?: Party;
  readonly reason?: string;
  readonly date?: string;
  readonly period: string;
}

export interface ParticipantRow {
  readonly source: string;
  readonly member: Party;
  readonly organization?: Party;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly period: string;
}

export interface ServiceRow {
  readonly service: string;
  readonly benefit?: string;
  readonly responsibleParty?: Party;
}

export interface PlanRow {
  readonly source: string;
  readonly status: string;
  /** `A` (MLTCP) or `B` (MAP); absent on a comprehensive plan without a split. */
  readonly appendix?: string;
  readonly parties: readonly Party[];
  readonly period: string;
  readonly services: readonly ServiceRow[];
}

export interface RequestRow {
  readonly source: string;
  readonly code: string;
  readonly categories: readonly string[];
  readonly status: string;
  readonly intent: string;
  readonly requester?: Party;
  readonly period: string;
}

export interface ConsentRow {
  readonly source: string;
  readonly kind: 'data-sharing' | 'opt-out';
  readonly organizations: readonly Party[];
  readonly period: string;
}

/**
 * What a form left out because the member's record is larger than one form reads (FORM_MAX_RECORDS): a
 * record type with more resources than the limit (only the first `limit` were read), or, without
 * resourceType, directory entries that were not read (their references show instead of their names).
 */
export interface FormLimit {
  readonly resourceType?: string;
  readonly limit: number;
  /** Directory entries only: how many the record referenced beyond the limit. */
  readonly notRead?: number;
}

export interface CoordinationForm {
  readonly member: { readonly reference: string; readonly name: string; readonly birthDate?: string; readonly gender?: string; readonly identifiers: readonly string[] };
  readonly enrolments: readonly EnrolmentRow[];
  readonly leads: readonly LeadRow[];
  readonly participants: readonly ParticipantRow[];
  readonly plans: readonly PlanRow[];
  readonly requests: readonly RequestRow[];
  readonly consents: readonly ConsentRow[];
  /** Parties who sign the form: the ASA parties, else the lead's designators. */
  readonly signatories: readonly Party[];
  /** Every resource a row was taken from (the member first, then record order, then the directory). */
  readonly sources: readonly Resource[];
  /** Empty unless the record was larger than the form reads: then what it left out. */
  readonly limits: readonly FormLimit[];
}

/** Directory resources (Organization, Practitioner, PractitionerRole) by `Type/id`. */
export type Directory = ReadonlyMap<string, Resource>;

/** What the form reads by reference besides the member's record: whom to name. */
export function directoryReferences(record: MemberRecord, directory: Directory = new Map()): string[] {
  const out = new Set<string>();
  const add = (ref: Reference | undefined) => {
    const r = parseRef(ref);
    if (r && (r.type === 'Organization' || r.type === 'Practitioner' || r.type === 'PractitionerRole')) out.add(`${r.type}/${r.id}`);
  };
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const ref = (value as Reference).reference;
      if (typeof ref === 'string') add(value);
      Object.values(value).forEach(walk);
    }
  };
  for (const list of Object.values(record)) walk(list);
  // A role names its practitioner and organization: read in a second round, once roles are known.
  for (const [key, r] of directory) if (key.startsWith('PractitionerRole/')) walk([(r as PractitionerRole).practitioner, (r as PractitionerRole).organization]);
  return [...out];
}

const codingText = (c: Coding): string => [c.code, c.display && c.display !== c.code ? `(${c.display})` : undefined].filter(Boolean).join(' ');

function conceptText(cc: CodeableConcept | undefined): string {
  return cc?.text ?? (cc?.coding ?? []).map(codingText).filter((t) => t !== '').join(', ');
}

function nameOf(resource: Resource | undefined): string | undefined {
  switch (resource?.resourceType) {
    case 'Organization':
      return (resource).name;
    case 'Practitioner':
    case 'Patient':
      return resource.name?.[0] ? formatHumanName(resource.name[0]) || undefined : undefined;
    default:
      return undefined;
  }
}

export class FormAssembler {
  constructor(
    private readonly directory: Directory,
    /** The instant (or day) the form shows: records in force then. */
    private readonly at: Range,
  ) {}

  private readonly used = new Map<string, Resource>();

  /**
   * A reference in words: the directory's name for it, else its display, else the reference itself. A
   * PractitionerRole reads as its practitioner and organization, one level deep (never itself again).
   */
  party(ref: Reference | string | undefined, nested = false): Party | undefined {
    const key = refKey(ref);
    const stated = typeof ref === 'object' ? ref.display : undefined;
    if (!key) return stated ? { display: stated } : undefined;
    const resource = this.directory.get(key);
    if (resource) this.used.set(key, resource);
    let display = nameOf(resource);
    if (resource?.resourceType === 'PractitionerRole' && !nested) {
      const role = resource;
      const who = this.party(role.practitioner, true)?.display;
      const org = this.party(role.organization, true)?.display;
      display = [who, org ? `(${org})` : undefined].filter(Boolean).join(' ') || undefined;
    }
    return { reference: key, display: display ?? stated ?? key };
  }

  private inForce(range: Range): boolean {
    return overlaps(range, this.at);
  }

  private async teamRows(teams: readonly CareTeam[]): Promise<{ leads: LeadRow[]; participants: ParticipantRow[]; used: CareTeam[] }> {
    const leads: LeadRow[] = [];
    const participants: ParticipantRow[] = [];
    const used: CareTeam[] = [];
    const reader = { read: (type: string, id: string) => Promise.resolve(this.directory.get(`${type}/${id}`)) };
    for (const team of teams) {
      if (isInError(team) || !isActiveCareTeam(team)) continue;
      const source = resourceKey(team);
      const teamRange = periodRange(team.period);
      let shown = false;
      for (const p of team.participant ?? []) {
        if (!this.inForce(participantRange(p, teamRange))) continue;
        shown = true;
        const org = this.party(await participantOrganization(reader, p));
        const member = this.party(p.member) ?? { display: 'unnamed participant' };
        const period = describePeriod(p.period ?? team.period);
        participants.push({
          source,
          member,
          ...(org ? { organization: org } : {}),
          roles: (p.role ?? []).map(conceptText).filter((t) => t !== ''),
          scopes: scopesOf(p).map((s) => s.code),
          period,
        });
        if (!isLeadParticipant(p)) continue;
        const designation = firstExtension(p, Extensions.leadDesignation)?.value;
        const basis = this.party(subExtensions(designation, 'basis')[0]?.valueReference);
        const reason = subExtensions(designation, 'reason')[0]?.valueString;
        const date = subExtensions(designation, 'date')[0]?.valueDate;
        leads.push({
          source,
          careManager: member,
          ...(org ? { organization: org } : {}),
          designatedBy: subExtensions(designation, 'designatedBy').flatMap((e) => this.party(e.valueReference) ?? []),
          ...(basis ? { basis } : {}),
          ...(reason !== undefined ? { reason } : {}),
          ...(date !== undefined ? { date } : {}),
          period,
        });
      }
      if (shown) used.push(team);
    }
    return { leads, participants, used };
  }

  private planRows(plans: readonly CarePlan[]): { rows: PlanRow[]; used: CarePlan[] } {
    const rows: PlanRow[] = [];
    const used: CarePlan[] = [];
    for (const plan of plans) {
      const relevant = isServiceSplitPlan(plan) || comprehensiveCategoryIndex(plan) !== undefined;
      if (!relevant || !isActiveCarePlan(plan) || !this.inForce(periodRange(plan.period))) continue;
      const split = splitPlan(plan);
      used.push(plan);
      rows.push({
        source: split.ref,
        status: plan.status,
        ...(split.appendix?.code ? { appendix: split.appendix.code } : {}),
        parties: split.parties.flatMap((p) => this.party(p.org) ?? []),
        period: describePeriod(plan.period),
        services: split.activities.map((a) => {
          const party = this.party(a.responsibleParty);
          return { service: serviceText(a.service), ...(a.benefit ? { benefit: a.benefit } : {}), ...(party ? { responsibleParty: party } : {}) };
        }),
      });
    }
    return { rows, used };
  }

  private requestRows(requests: readonly ServiceRequest[]): { rows: RequestRow[]; used: ServiceRequest[] } {
    const used = requests.filter((sr) => isActiveServiceRequest(sr) && this.inForce(occurrenceRange(sr)));
    const rows = used.map((sr): RequestRow => {
      const requester = this.party(sr.requester);
      return {
        source: resourceKey(sr),
        code: serviceText(sr.code),
        categories: (sr.category ?? []).map(conceptText).filter((t) => t !== ''),
        status: sr.status,
        intent: sr.intent,
        ...(requester ? { requester } : {}),
        period: describeOccurrence(sr),
      };
    });
    return { rows, used };
  }

  private consentRows(consents: readonly Consent[]): { rows: ConsentRow[]; used: Consent[] } {
    const rows: ConsentRow[] = [];
    const used: Consent[] = [];
    for (const c of consents) {
      const source = resourceKey(c);
      const outs = optOuts([c]).filter((o) => this.inForce(o.range));
      const sharing = isDataSharingConsent(c) && this.inForce(periodRange(c.provision?.period));
      const period = describePeriod(c.provision?.period);
      if (outs.length > 0) rows.push({ source, kind: 'opt-out', organizations: outs.flatMap((o) => this.party(o.org) ?? []), period });
      if (sharing) rows.push({ source, kind: 'data-sharing', organizations: (c.provision?.actor ?? []).flatMap((a) => this.party(a.reference) ?? []), period });
      if (outs.length > 0 || sharing) used.push(c);
    }
    return { rows, used };
  }

  private enrolmentRows(episodes: readonly EpisodeOfCare[]): { rows: EnrolmentRow[]; used: EpisodeOfCare[] } {
    const rows: EnrolmentRow[] = [];
    const used: EpisodeOfCare[] = [];
    for (const e of episodes) {
      const programs = (e.type ?? []).flatMap((cc) => (cc.coding ?? []).filter((c) => c.system === CodeSystems.program && c.code));
      if (!isActiveEpisode(e) || programs.length === 0 || !this.inForce(periodRange(e.period))) continue;
      const org = this.party(e.managingOrganization);
      used.push(e);
      rows.push({ source: resourceKey(e), program: programs.map((c) => c.code!).join(', '), ...(org ? { organization: org } : {}), period: describePeriod(e.period) });
    }
    return { rows, used };
  }

  async assemble(patient: Patient, record: MemberRecord, limits: readonly FormLimit[] = []): Promise<CoordinationForm> {
    const teams = await this.teamRows(record.careTeams);
    const plans = this.planRows(record.carePlans);
    const requests = this.requestRows(record.serviceRequests);
    const consents = this.consentRows(record.consents);
    const enrolments = this.enrolmentRows(record.episodes);
    const split = plans.rows.find((p) => p.parties.length > 0);
    const signatories = split?.parties ?? teams.leads[0]?.designatedBy ?? [];
    return {
      member: {
        reference: resourceKey(patient),
        name: nameOf(patient) ?? resourceKey(patient),
        ...(patient.birthDate ? { birthDate: patient.birthDate } : {}),
        ...(patient.gender ? { gender: patient.gender } : {}),
        identifiers: (patient.identifier ?? []).flatMap((i) => (i.value ? [i.system ? `${i.system}|${i.value}` : i.value] : [])),
      },
      enrolments: enrolments.rows,
      leads: teams.leads,
      participants: teams.participants,
      plans: plans.rows,
      requests: requests.rows,
      consents: consents.rows,
      signatories,
      sources: [patient, ...enrolments.used, ...teams.used, ...plans.used, ...requests.used, ...consents.used, ...this.used.values()],
      limits,
    };
  }
}

/** `HCPCS T1019 (Personal care)`: the coded service, with its wording when the record has one. */
function serviceText(cc: CodeableConcept | undefined): string {
  const words = cc?.text ?? cc?.coding?.find((c) => c.display)?.display;
  const code = describeService(cc);
  return words && words !== code ? `${code} (${words})` : code;
}


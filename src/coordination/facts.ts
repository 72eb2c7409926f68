// Coordination facts: the few things about a stored CareTeam, ServiceRequest or CarePlan that decide
// whether it can collide with another one (a lead and when, a scope holding and by whom, an order of a
// service and when, a comprehensive or service-split plan and when). The storage layer keeps them as an
// indexed projection, written in the same transaction as the resource (migrations/0003), so a write's
// rules load only the member's resources that can interact with what is written instead of the
// member's whole history (see Rule.select and docs/adr/0005).
//
// Facts only ever widen what is loaded: a resource without facts is simply not a candidate, so facts are
// kept for exactly the states the rules treat as active (an inactive team holds no lead that can clash).
import type { CarePlan, CareTeam, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { ORDER_INTENTS } from './codes.js';
import { isLeadParticipant, participantRange, scopesOf } from './care-team.js';
import { membersOf } from './members.js';
import { statedParticipantOrganization } from './organizations.js';
import type { Range } from './period.js';
import { isEmpty, overlaps, periodRange } from './period.js';
import { codingKeys, occurrenceRange } from './service-requests.js';
import { comprehensiveCategoryIndex, isServiceSplitPlan } from './service-split.js';
import { isActiveCarePlan, isActiveCareTeam, isActiveServiceRequest, isInError } from './status.js';

/**
 * Bump when coordinationFacts changes what it derives: the storage layer then rebuilds the projection
 * from the stored resources at startup.
 */
export const FACTS_VERSION = 2;

export type FactKind =
  /** An active CareTeam's period (its participants and managing organizations are present then). */
  | 'team'
  /** A lead care manager participant of an active CareTeam. */
  | 'lead'
  /** A coordination-scope holding of an active CareTeam participant; key = scope code. */
  | 'scope'
  /** An active ServiceRequest with an order intent; key = `system|code` of one of its codings. */
  | 'order'
  /** An active CarePlan with the comprehensive category. */
  | 'comprehensive-plan'
  /** An active service-split CarePlan. */
  | 'split-plan';

/** The resource type each fact kind comes from. */
export const FACT_SOURCE: Readonly<Record<FactKind, 'CareTeam' | 'ServiceRequest' | 'CarePlan'>> = {
  team: 'CareTeam',
  lead: 'CareTeam',
  scope: 'CareTeam',
  order: 'ServiceRequest',
  'comprehensive-plan': 'CarePlan',
  'split-plan': 'CarePlan',
};

export interface Fact {
  readonly kind: FactKind;
  /** Scope code, order coding key, or '' for kinds without one. */
  readonly key: string;
  /** A scope holder's stated organization, or the PractitionerRole it acts through (organizations.ts statedParticipantOrganization); else undefined. */
  readonly org?: string;
  /** Never empty: facts that cover no instant are not kept (they can overlap nothing). */
  readonly range: Range;
}

/** The member a fact belongs to, plus the fact: what the storage layer writes for one resource. */
export interface MemberFacts {
  readonly memberId: string;
  readonly facts: readonly Fact[];
}

/** Stored resources with a fact of this kind and key whose range overlaps `range` (and, with otherOrgThan, another or an unstated org). */
export interface FactQuery {
  readonly kind: FactKind;
  readonly key: string;
  readonly range: Range;
  /** Skip facts whose stated org is exactly this one (an org stated on both sides and equal cannot clash). */
  readonly otherOrgThan?: string;
}

function careTeamFacts(team: CareTeam): Fact[] {
  if (isInError(team) || !isActiveCareTeam(team)) return [];
  const teamRange = periodRange(team.period);
  const out: Fact[] = [{ kind: 'team', key: '', range: teamRange }];
  for (const p of team.participant ?? []) {
    const range = participantRange(p, teamRange);
    if (isLeadParticipant(p)) out.push({ kind: 'lead', key: '', range });
    const org = statedParticipantOrganization(p);
    for (const s of scopesOf(p)) out.push({ kind: 'scope', key: s.code, range, ...(org ? { org } : {}) });
  }
  return out;
}

function serviceRequestFacts(sr: ServiceRequest): Fact[] {
  if (!isActiveServiceRequest(sr) || !ORDER_INTENTS.has(sr.intent)) return [];
  const range = occurrenceRange(sr);
  return [...codingKeys(sr.code)].map((key) => ({ kind: 'order' as const, key, range }));
}

function carePlanFacts(plan: CarePlan): Fact[] {
  if (!isActiveCarePlan(plan)) return [];
  const range = periodRange(plan.period);
  const out: Fact[] = [];
  if (comprehensiveCategoryIndex(plan) !== undefined) out.push({ kind: 'comprehensive-plan', key: '', range });
  if (isServiceSplitPlan(plan)) out.push({ kind: 'split-plan', key: '', range });
  return out;
}

/** The facts of one resource state (none for types and states the overlap rules never pair). */
export function coordinationFacts(resource: Resource | undefined): Fact[] {
  let facts: Fact[];
  switch (resource?.resourceType) {
    case 'CareTeam':
      facts = careTeamFacts(resource);
      break;
    case 'ServiceRequest':
      facts = serviceRequestFacts(resource);
      break;
    case 'CarePlan':
      facts = carePlanFacts(resource);
      break;
    default:
      return [];
  }
  const seen = new Set<string>();
  return facts.filter((f) => {
    if (isEmpty(f.range)) return false;
    const k = `${f.kind}|${f.key}|${f.org ?? ''}|${f.range.start}|${f.range.end}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** What the storage layer projects for a resource: its member and facts, or undefined when it has none. */
export function memberFactsOf(resource: Resource | undefined): MemberFacts | undefined {
  const [memberId] = membersOf(resource);
  if (memberId === undefined) return undefined;
  const facts = coordinationFacts(resource);
  return facts.length > 0 ? { memberId, facts } : undefined;
}

/** Whether a stored fact answers a query: the in-memory twin of the storage layer's SQL. */
export function factMatches(fact: Fact, q: FactQuery): boolean {
  if (fact.kind !== q.kind || fact.key !== q.key || !overlaps(fact.range, q.range)) return false;
  return q.otherOrgThan === undefined || fact.org === undefined || fact.org !== q.otherOrgThan;
}

/** Resource types that have facts: only their writes touch the projection. */
export const FACT_TYPES: ReadonlySet<string> = new Set(Object.values(FACT_SOURCE));

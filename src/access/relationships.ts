// The contract's Access section, as rows: which organizations have a relationship with a member, and
// when. Derived from one resource at a time, so the storage layer keeps them as a projection written
// with the resource (migrations/0005) and a query adds one predicate instead of reading the record.
//
// An actor is `Organization/<id>`, or `PractitionerRole/<id>` where the organization is the role's
// (read when access is judged, so moving a role to another organization moves its access with it).
import type { CareTeam, Consent, EpisodeOfCare, Reference, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { participantRange } from '../coordination/care-team.js';
import { CodeSystems } from '../coordination/codes.js';
import { membersOf } from '../coordination/members.js';
import { statedParticipantOrganization } from '../coordination/organizations.js';
import { ALWAYS, isEmpty, periodRange, type Range } from '../coordination/period.js';
import { optOuts } from '../coordination/rules/cp-opt-out.js';
import { parseRef } from '../coordination/refs.js';
import { isActiveCareTeam, isActiveEpisode, isDataSharingConsent, isInError } from '../coordination/status.js';

export interface AccessRow {
  readonly memberId: string;
  readonly actor: string;
  /** An opt-out: the actor sees nothing of the member while it is in force, whatever else holds. */
  readonly deny: boolean;
  readonly range: Range;
}


/** Bump when accessRows or the compartment derivation changes: the projection is rebuilt at startup. */
export const ACCESS_VERSION = 2;

/** Resource types whose writes can change who has a relationship with a member. */
export const ACCESS_TYPES: ReadonlySet<string> = new Set(['Patient', 'EpisodeOfCare', 'CareTeam', 'ServiceRequest', 'Consent']);

/** `Organization/<id>` or `PractitionerRole/<id>` for an actor reference; anything else acts for nobody. */
function actorOf(ref: Reference | undefined): string | undefined {
  const r = parseRef(ref);
  return r && (r.type === 'Organization' || r.type === 'PractitionerRole') ? `${r.type}/${r.id}` : undefined;
}

function episodeRows(e: EpisodeOfCare, memberId: string): AccessRow[] {
  // An enrolment is an active EpisodeOfCare with a program coding (contract); its manager has access
  // while its period lasts.
  const program = (e.type ?? []).some((cc) => (cc.coding ?? []).some((c) => c.system === CodeSystems.program && c.code));
  const actor = actorOf(e.managingOrganization);
  if (!isActiveEpisode(e) || !program || !actor) return [];
  return [{ memberId, actor, deny: false, range: periodRange(e.period) }];
}

function careTeamRows(t: CareTeam, memberId: string): AccessRow[] {
  if (isInError(t) || !isActiveCareTeam(t)) return [];
  const teamRange = periodRange(t.period);
  return (t.participant ?? []).flatMap((p) => {
    const actor = statedParticipantOrganization(p);
    return actor ? [{ memberId, actor, deny: false, range: participantRange(p, teamRange) }] : [];
  });
}

function serviceRequestRows(sr: ServiceRequest, memberId: string): AccessRow[] {
  // The contract names no status or period here: whoever requested or performs a member's service has a
  // relationship with the member (a request entered in error was never real).
  if (isInError(sr)) return [];
  return [sr.requester, ...(sr.performer ?? [])].flatMap((ref) => {
    const actor = actorOf(ref);
    return actor ? [{ memberId, actor, deny: false, range: ALWAYS }] : [];
  });
}

function consentRows(c: Consent, memberId: string): AccessRow[] {
  const deny = optOuts([c]).map((o) => ({ memberId, actor: o.org, deny: true, range: o.range }));
  if (!isDataSharingConsent(c)) return deny;
  const range = periodRange(c.provision?.period);
  const permit = (c.provision?.actor ?? []).flatMap((a) => {
    const actor = actorOf(a.reference);
    return actor ? [{ memberId, actor, deny: false, range }] : [];
  });
  return [...deny, ...permit];
}

/**
 * The access rows of one resource state (none for a deletion). Beyond the contract: a Patient's
 * managingOrganization has a relationship with the member it registered (docs/adr/0008).
 */
export function accessRows(resource: Resource | undefined): AccessRow[] {
  if (!resource) return [];
  let rows: AccessRow[];
  if (resource.resourceType === 'Patient') {
    const actor = actorOf((resource).managingOrganization);
    rows = actor && resource.id ? [{ memberId: resource.id, actor, deny: false, range: ALWAYS }] : [];
  } else {
    const [memberId] = membersOf(resource);
    if (memberId === undefined) return [];
    switch (resource.resourceType) {
      case 'EpisodeOfCare':
        rows = episodeRows(resource, memberId);
        break;
      case 'CareTeam':
        rows = careTeamRows(resource, memberId);
        break;
      case 'ServiceRequest':
        rows = serviceRequestRows(resource, memberId);
        break;
      case 'Consent':
        rows = consentRows(resource, memberId);
        break;
      default:
        return [];
    }
  }
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = `${r.actor}|${r.deny}|${r.range.start}|${r.range.end}`;
    if (isEmpty(r.range) || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

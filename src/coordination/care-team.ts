// A flat view of CareTeam participants: who, for which organization, in which role and scopes, when.
import type { CareTeam, CareTeamParticipant } from '@medplum/fhirtypes';
import { CodeSystems, Extensions, LEAD_CARE_MANAGER } from './codes.js';
import { participantOrganization } from './organizations.js';
import type { Range } from './period.js';
import { describePeriod, intersect, periodRange } from './period.js';
import { refKey, resourceKey } from './refs.js';
import { isActiveCareTeam, isInError } from './status.js';
import type { RuleContext } from './rules/types.js';

export interface ScopeHolding {
  readonly code: string;
  /** Index of the coordination-scope extension in participant.extension. */
  readonly extIndex: number;
}

export interface ParticipantView {
  readonly team: CareTeam;
  readonly teamRef: string;
  readonly index: number;
  readonly participant: CareTeamParticipant;
  /** participant.period, else the team's; clipped to the team's period (nobody outlasts the team). */
  readonly range: Range;
  readonly periodText: string;
  readonly activeTeam: boolean;
  readonly isLead: boolean;
  /** `Organization/<id>`: the participant's organization (organizations.ts participantOrganization). */
  readonly org: string | undefined;
  /** Where the organization is stated: `….onBehalfOf` for a Practitioner member, else `….member`. */
  readonly orgPath: string;
  readonly member: string | undefined;
  readonly scopes: readonly ScopeHolding[];
  /** `CareTeam/123 participant[0]` */
  readonly label: string;
  /** `CareTeam.participant[0]` */
  readonly path: string;
}

export function isLeadParticipant(p: CareTeamParticipant): boolean {
  return (p.role ?? []).some((cc) =>
    (cc.coding ?? []).some((c) => c.system === CodeSystems.careTeamRole && c.code === LEAD_CARE_MANAGER),
  );
}

export function scopesOf(p: CareTeamParticipant): ScopeHolding[] {
  const out: ScopeHolding[] = [];
  p.extension?.forEach((ext, extIndex) => {
    const c = ext.url === Extensions.coordinationScope ? ext.valueCoding : undefined;
    // Codings match on system and code: a scope coding without a system holds no contract scope.
    if (c?.code && c.system === CodeSystems.coordinationScope) {
      out.push({ code: c.code, extIndex });
    }
  });
  return out;
}

/** participant.period (else the team's), clipped to the team's: nobody outlasts the team. */
export function participantRange(participant: CareTeamParticipant, teamRange: Range): Range {
  const own = participant.period ? periodRange(participant.period) : teamRange;
  return intersect(own, teamRange) ?? { start: own.start, end: own.start };
}

// Most CareTeam rules start from the same participant views of the same record; they are built once per
// record (the engine makes a fresh record object for each state it judges, so no view outlives it).
const viewsByRecord = new WeakMap<object, Promise<ParticipantView[]>>();

/** Every participant of the member's teams except teams entered in error, in record order. */
export function participants(ctx: Pick<RuleContext, 'read' | 'record'>): Promise<ParticipantView[]> {
  let views = viewsByRecord.get(ctx.record);
  if (!views) {
    views = buildParticipants(ctx);
    viewsByRecord.set(ctx.record, views);
  }
  return views;
}

async function buildParticipants(ctx: Pick<RuleContext, 'read' | 'record'>): Promise<ParticipantView[]> {
  const out: ParticipantView[] = [];
  for (const team of ctx.record.careTeams) {
    if (isInError(team)) continue;
    const teamRef = resourceKey(team);
    const teamRange = periodRange(team.period);
    const parts = team.participant ?? [];
    for (let index = 0; index < parts.length; index++) {
      const participant = parts[index];
      if (!participant) continue;
      const range = participantRange(participant, teamRange);
      const org = await participantOrganization(ctx, participant);
      out.push({
        team,
        teamRef,
        index,
        participant,
        range,
        periodText: describePeriod(participant.period ?? team.period),
        activeTeam: isActiveCareTeam(team),
        isLead: isLeadParticipant(participant),
        org,
        orgPath: `CareTeam.participant[${index}]${participant.member?.reference?.match(/(^|\/)Practitioner\//) ? '.onBehalfOf' : '.member'}`,
        member: refKey(participant.member),
        scopes: scopesOf(participant),
        label: `${teamRef} participant[${index}]`,
        path: `CareTeam.participant[${index}]`,
      });
    }
  }
  return out;
}

/** The expression of a participant's lead role: `CareTeam.participant[i].role`. */
export const rolePath = (p: ParticipantView): string => `${p.path}.role`;
export const scopePath = (p: ParticipantView, s: ScopeHolding): string => `${p.path}.extension[${s.extIndex}]`;

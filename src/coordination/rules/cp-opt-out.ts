// cp-opt-out: while a member's active Consent opts out of an organization (OPTOUT, deny), that
// organization cannot join the member's CareTeams or request services for them.
// Source: MassHealth "Care Coordination Guidance", section 4 "Which members will a LTSS CP support?":
// "Members may choose not to participate at any time."
import type { Consent } from '@medplum/fhirtypes';
import { CodeSystems, OPTOUT } from '../codes.js';
import { participants } from '../care-team.js';
import { actorOrganization } from '../organizations.js';
import type { Range } from '../period.js';
import { describePeriod, overlaps, periodRange } from '../period.js';
import { refKey, resourceKey } from '../refs.js';
import { describeOccurrence, occurrenceRange } from '../service-requests.js';
import { isLiveServiceRequest } from '../status.js';
import type { Rule, Violation } from './types.js';

interface OptOut {
  readonly ref: string;
  readonly org: string;
  readonly range: Range;
  readonly since: string;
}

/** Active OPTOUT/deny Consents, one entry per organization actor; provision.period, else always. */
export function optOuts(consents: readonly Consent[]): OptOut[] {
  return consents.flatMap((c) => {
    const optOut = (c.policyRule?.coding ?? []).some((k) => k.code === OPTOUT && k.system === CodeSystems.v3ActCode);
    if (c.status !== 'active' || !optOut || c.provision?.type !== 'deny') return [];
    const range = periodRange(c.provision.period);
    return (c.provision.actor ?? []).flatMap((a) => {
      const org = refKey(a.reference);
      return org?.startsWith('Organization/')
        ? [{ ref: resourceKey(c), org, range, since: describePeriod(c.provision?.period) }]
        : [];
    });
  });
}

export const cpOptOut: Rule = {
  id: 'cp-opt-out',
  summary: 'An organization the member opted out of cannot join their CareTeams or request services for them.',
  source: 'MassHealth Care Coordination Guidance, section 4 (which members a LTSS CP supports): "Members may choose not to participate at any time"',
  // Not Consent: recording an opt-out is never refused. It binds the next CareTeam/ServiceRequest writes.
  appliesTo: ['CareTeam', 'ServiceRequest'],
  // Teams are read only when a team is written, requests only when a request is written.
  reads: { CareTeam: ['careTeams', 'consents'], ServiceRequest: ['serviceRequests', 'consents'] },
  // Only written teams and requests are judged (below); the opt-outs are read whole.
  select: () => ({ careTeams: [], serviceRequests: [] }),
  async check(ctx) {
    const outs = optOuts(ctx.record.consents);
    if (outs.length === 0) return [];
    const violations: Violation[] = [];
    // Only written teams and requests are judged, so recording the Consent never fails because of an
    // existing participation; a participant already present before the opt-out keeps the same key and
    // may stay until the team is tidied, but no new one can join.
    const writes = (type: string): boolean => [...ctx.written].some((k) => k.startsWith(`${type}/`));
    for (const p of writes('CareTeam') ? await participants(ctx) : []) {
      if (!ctx.written.has(p.teamRef) || !p.activeTeam) continue;
      const orgs = new Set([p.org, await actorOrganization(ctx, p.participant.member)].filter((o): o is string => !!o));
      for (const o of outs) {
        if (!orgs.has(o.org) || !overlaps(o.range, p.range)) continue;
        violations.push({
          key: `${p.label}|${o.ref}|${o.org}`,
          text: `The member has opted out of ${o.org}: it cannot be on the member's care team while the opt-out is in force.`,
          sites: [
            {
              ref: p.teamRef,
              expression: p.orgPath,
              diagnostics: `${o.ref} opts the member out of ${o.org} ${o.since}; ${p.label} is ${p.periodText}`,
            },
          ],
        });
      }
    }
    for (const sr of writes('ServiceRequest') ? ctx.record.serviceRequests : []) {
      const ref = resourceKey(sr);
      if (!ctx.written.has(ref) || !isLiveServiceRequest(sr)) continue;
      const org = await actorOrganization(ctx, sr.requester);
      for (const o of outs) {
        if (org !== o.org || !overlaps(o.range, occurrenceRange(sr))) continue;
        violations.push({
          key: `${ref}|${o.ref}|${o.org}`,
          text: `The member has opted out of ${o.org}: it cannot request services for the member while the opt-out is in force.`,
          sites: [
            {
              ref,
              expression: 'ServiceRequest.requester',
              diagnostics: `${o.ref} opts the member out of ${o.org} ${o.since}; the request is ${describeOccurrence(sr)}`,
            },
          ],
        });
      }
    }
    return violations;
  },
};

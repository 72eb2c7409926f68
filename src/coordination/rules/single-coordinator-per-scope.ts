// single-coordinator-per-scope: for a member, each coordination scope is held by at most one
// organization at any instant.
// Sources: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes", closing paragraph: "... care management services are not duplicated";
// MassHealth "Care Coordination Guidance", section 6, LTSS Community Partner, what it will not do: "LTSS CPs
// will not duplicate the functions of other care coordinators";
// Minnesota DHS Community-Based Services Manual, "Care coordination", section "Non-covered services": "Care
// coordination services cannot duplicate other Minnesota state plan or waiver services."
import { participants, scopePath } from '../care-team.js';
import type { ParticipantView, ScopeHolding } from '../care-team.js';
import { overlaps } from '../period.js';
import type { Rule, Violation } from './types.js';
import { factsOf, pairKey } from './types.js';

interface Holding {
  readonly p: ParticipantView;
  readonly s: ScopeHolding;
  readonly org: string;
}

export const singleCoordinatorPerScope: Rule = {
  id: 'single-coordinator-per-scope',
  summary: 'Each coordination scope is held by at most one organization for a member at any instant.',
  source:
    'NY DOH MLTC Plans and Health Homes guidance: "are not duplicated"; MassHealth Care Coordination Guidance, section 6: "will not duplicate the functions of other care coordinators"; Minnesota DHS CBSM "Care coordination", Non-covered services: "cannot duplicate"',
  appliesTo: ['CareTeam'],
  reads: ['careTeams'],
  // A written holding can only clash with a stored holding of the same scope, overlapping it, by another
  // organization (or one whose organization is only known through its member).
  select: (batch) => ({
    careTeams: factsOf(batch, 'scope').map((f) => ({ kind: 'scope', key: f.key, range: f.range, ...(f.org ? { otherOrgThan: f.org } : {}) })),
  }),
  async check(ctx) {
    const holdings: Holding[] = (await participants(ctx))
      .filter((p) => p.activeTeam)
      .flatMap((p) => (p.org ? p.scopes.map((s) => ({ p, s, org: p.org as string })) : []));
    const out: Violation[] = [];
    for (let j = 0; j < holdings.length; j++) {
      for (let i = 0; i < j; i++) {
        const a = holdings[i];
        const b = holdings[j];
        // Only a pair with a resource this batch writes can be a new violation (the engine reports only what
        // a batch adds), so pairs of untouched resources are skipped: linear, not quadratic, in history.
        if (!a || !b || !(ctx.written.has(a.p.teamRef) || ctx.written.has(b.p.teamRef))) continue;
        if (a.s.code !== b.s.code || a.org === b.org || !overlaps(a.p.range, b.p.range)) continue;
        out.push({
          key: pairKey('single-coordinator-per-scope', `${a.p.label}#${a.s.extIndex}`, `${b.p.label}#${b.s.extIndex}`),
          text:
            `Only one organization may coordinate "${a.s.code}" for a member at a time. End the other organization's ` +
            'assignment before this one starts, or hand it off in one transaction.',
          sites: [
            {
              ref: b.p.teamRef,
              expression: scopePath(b.p, b.s),
              diagnostics: `${a.org} already holds ${a.s.code} on ${a.p.label} ${a.p.periodText}`,
            },
            {
              ref: a.p.teamRef,
              expression: scopePath(a.p, a.s),
              diagnostics: `${b.org} already holds ${b.s.code} on ${b.p.label} ${b.p.periodText}`,
            },
          ],
        });
      }
    }
    return out;
  },
};

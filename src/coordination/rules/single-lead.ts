// single-lead: a member has at most one lead care manager at any instant, across all their CareTeams.
// Source: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes", paragraph on the lead care manager: "It will be the joint responsibility of both
// parties to determine which care manager will serve as the lead care manager for each consumer."
import { participants, rolePath } from '../care-team.js';
import { overlaps } from '../period.js';
import type { Rule, Violation } from './types.js';
import { factsOf, overlapping, pairKey } from './types.js';

export const singleLead: Rule = {
  id: 'single-lead',
  summary: 'A member has at most one lead care manager at any instant, across all their CareTeams.',
  source: 'NY DOH MLTC Plans and Health Homes guidance, paragraph on the lead care manager: "determine which care manager will serve as the lead care manager for each consumer"',
  appliesTo: ['CareTeam'],
  reads: ['careTeams'],
  // A written lead can only clash with a stored lead whose period overlaps it.
  select: (batch) => ({ careTeams: overlapping(factsOf(batch, 'lead'), 'lead') }),
  async check(ctx) {
    const leads = (await participants(ctx)).filter((p) => p.activeTeam && p.isLead);
    const out: Violation[] = [];
    for (let j = 0; j < leads.length; j++) {
      for (let i = 0; i < j; i++) {
        const a = leads[i];
        const b = leads[j];
        // Only a pair with a resource this batch writes can be a new violation (the engine reports only what
        // a batch adds), so pairs of untouched resources are skipped: linear, not quadratic, in history.
        if (!a || !b || !(ctx.written.has(a.teamRef) || ctx.written.has(b.teamRef)) || !overlaps(a.range, b.range)) continue;
        // The same care manager recorded as lead on two of the member's teams (plan's and Health
        // Home's) is still one lead care manager.
        if (a.member !== undefined && a.member === b.member) continue;
        out.push({
          key: pairKey('single-lead', a.label, b.label),
          text:
            'The member already has a lead care manager for this period. End the current lead assignment the day ' +
            'before the new one starts (for example end 2026-06-30, start 2026-07-01), in the same transaction.',
          sites: [
            { ref: b.teamRef, expression: rolePath(b), diagnostics: `${a.label} (${a.member ?? 'no member'}) is already the lead care manager ${a.periodText}` },
            { ref: a.teamRef, expression: rolePath(a), diagnostics: `${b.label} (${b.member ?? 'no member'}) is already the lead care manager ${b.periodText}` },
          ],
        });
      }
    }
    return out;
  },
};

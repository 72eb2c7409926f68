// scope-allowed-for-role: an organization may hold only the scopes of its role (table in codes.ts
// SCOPES_BY_ROLE); an mco may also hold waiver-case-management for members enrolled in mn-elderly-waiver.
// Sources: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes", paragraph on the template ASA: "The template ASA allocates a primary role for the
// coordination of long term care services to the MLTCP Plan and a primary role for the coordination of
// behavioral health care and other services and supports that are outside of the MLTC benefit package to the
// Health Home";
// MassHealth "Care Coordination Guidance", section 6 "Who will do what in the new care delivery models?":
// "Descriptions below explain what each entity will do and will not do";
// Minnesota DHS Community-Based Services Manual, "Care coordination", "Secondary information" (disability
// waivers): "they have what is considered a \"dual role.\""
import { SCOPES_BY_ROLE } from '../codes.js';
import type { CoordinationScope } from '../codes.js';
import { participants, scopePath } from '../care-team.js';
import { enrolledThroughout, enrolments } from '../enrolment.js';
import { describeRoles, organizationRoles } from '../organizations.js';
import type { Rule, Violation } from './types.js';

export const scopeAllowedForRole: Rule = {
  id: 'scope-allowed-for-role',
  summary: "An organization holds only the coordination scopes its organization-role allows.",
  source:
    'NY DOH MLTC Plans and Health Homes guidance, template ASA primary roles; MassHealth Care Coordination Guidance, section 6 "What it will do / will not do"; Minnesota DHS CBSM "Care coordination", "dual role"',
  // An EpisodeOfCare write matters: ending or deleting mn-elderly-waiver takes an mco's
  // waiver-case-management away.
  appliesTo: ['CareTeam', 'EpisodeOfCare'],
  reads: ['careTeams', 'episodes'],
  // Each participant is judged on its own (and the enrolments): only written teams can newly fail,
  // unless an enrolment is written, which can fail any team.
  select: (batch) => (batch.types.has('EpisodeOfCare') ? {} : { careTeams: [] }),
  async check(ctx) {
    const out: Violation[] = [];
    const ew = enrolments(ctx.record, 'mn-elderly-waiver');
    for (const p of await participants(ctx)) {
      if (!p.activeTeam || p.scopes.length === 0) continue;
      const roles = await organizationRoles(ctx, p.org);
      const allowed = new Set<CoordinationScope>([...roles].flatMap((r) => SCOPES_BY_ROLE[r] ?? []));
      // Only while the member is enrolled in the MN Elderly Waiver over the whole holding (coverage: a
      // one-month enrolment does not open a five-year assignment).
      if (roles.has('mco') && enrolledThroughout(ew, p.range, 'mn-elderly-waiver')) allowed.add('waiver-case-management');
      for (const s of p.scopes) {
        if (allowed.has(s.code as CoordinationScope)) continue;
        const who = p.org ?? 'a participant without an organization (onBehalfOf)';
        out.push({
          key: `${p.label}#${s.extIndex}|${s.code}|${p.org ?? ''}`,
          text:
            `${who} cannot coordinate "${s.code}": its role (${describeRoles(roles)}) does not include that scope` +
            (s.code === 'waiver-case-management' && roles.has('mco')
              ? ' unless the member is enrolled in the MN Elderly Waiver for the whole assignment.'
              : '.'),
          sites: [
            {
              ref: p.teamRef,
              expression: scopePath(p, s),
              diagnostics: `${who} is ${describeRoles(roles)}; it may hold ${allowed.size ? [...allowed].join(', ') : 'no scope'}`,
            },
          ],
        });
      }
    }
    return out;
  },
};

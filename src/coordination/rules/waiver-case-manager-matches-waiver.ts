// waiver-case-manager-matches-waiver: for a member enrolled in mn-disability-waiver,
// waiver-case-management is held by a county or tribal-nation; for a member enrolled in
// mn-elderly-waiver and mn-msho or mn-msc-plus, it is held by the organization of the member's lead (the
// MCO care coordinator), or by a county or tribal-nation in its dual role; with no lead, by the mco
// managing that MSHO/MSC+ enrolment.
// Source: Minnesota DHS Community-Based Services Manual, "Care coordination", "Secondary information"
// (Elderly Waiver; BI, CAC, CADI and DD waivers): "People who are enrolled in MSHO or MSC+ and request EW or
// state plan services receive these services through the care coordinator" and "People who are enrolled in
// managed care (MSHO, MSC+) and request a disability waiver (BI, CAC, CADI, DD) receive waiver services
// through a county or tribal nation." Also: "People who live on or near the White Earth, Leech Lake, Red
// Lake, Mille Lacs or Fond du Lac reservations may be able to choose to get their EW services through the
// tribal health or human services division or through the MCO." (so a tribal-nation may hold EW case
// management).
import { participants, scopePath } from '../care-team.js';
import { enrolments, jointEnrolment } from '../enrolment.js';
import { describeRoles, organizationRoles } from '../organizations.js';
import { intersect, overlaps } from '../period.js';
import { refKey } from '../refs.js';
import type { Rule, Violation } from './types.js';
import { factsOf, overlapping } from './types.js';

const SCOPE = 'waiver-case-management';

export const waiverCaseManagerMatchesWaiver: Rule = {
  id: 'waiver-case-manager-matches-waiver',
  summary:
    'MN disability waiver case management is held by a county or tribal nation; MN Elderly Waiver case management (MSHO/MSC+) by the lead care coordinator\'s organization.',
  source:
    'Minnesota DHS CBSM "Care coordination", Secondary information: "request EW ... receive these services through the care coordinator"; "request a disability waiver ... receive waiver services through a county or tribal nation"',
  appliesTo: ['CareTeam', 'EpisodeOfCare'],
  reads: ['careTeams', 'episodes'],
  // A holding is judged on the leads during it: a written holding needs the stored leads overlapping it,
  // a written lead the stored holdings overlapping it, and those holdings their own leads (transitive).
  // An enrolment write can change any holding's verdict.
  select: (batch) =>
    batch.types.has('EpisodeOfCare')
      ? {}
      : { careTeams: [...overlapping(factsOf(batch, 'scope', SCOPE), 'lead', ''), ...overlapping(factsOf(batch, 'lead'), 'scope', SCOPE)] },
  selectTransitive: true,
  async check(ctx) {
    const dw = enrolments(ctx.record, 'mn-disability-waiver');
    const ew = jointEnrolment(enrolments(ctx.record, 'mn-elderly-waiver'), enrolments(ctx.record, 'mn-msho', 'mn-msc-plus'));
    if (dw.length === 0 && ew.length === 0) return [];
    const all = await participants(ctx);
    const leads = all.filter((p) => p.activeTeam && p.isLead);
    const out: Violation[] = [];
    for (const h of all) {
      if (!h.activeTeam) continue;
      for (const s of h.scopes.filter((x) => x.code === SCOPE)) {
        const roles = await organizationRoles(ctx, h.org);
        const who = h.org ?? 'a participant without an organization';
        const here = scopePath(h, s);
        for (const e of dw) {
          if (!overlaps(e.range, h.range) || roles.has('county') || roles.has('tribal-nation')) continue;
          out.push({
            key: `${h.label}#${s.extIndex}|dw|${e.ref}|${h.org ?? ''}`,
            text: 'For a member on an MN disability waiver (BI, CAC, CADI, DD), waiver case management is done by a county or tribal nation.',
            sites: [
              { ref: h.teamRef, expression: here, diagnostics: `${who} is ${describeRoles(roles)}; ${e.ref} enrols the member in mn-disability-waiver` },
              { ref: e.ref, expression: e.path, diagnostics: `${who} (${describeRoles(roles)}) holds waiver-case-management on ${h.label}` },
            ],
          });
        }
        // A county or tribal nation in its dual role may hold EW case management (contract text).
        if (roles.has('tribal-nation') || roles.has('county')) continue;
        for (const j of ew) {
          const window = intersect(j.range, h.range);
          if (!window) continue;
          const [ewEpisode, plan] = j.parts;
          const concurrentLeads = leads.filter((l) => overlaps(l.range, window));
          const wrong = concurrentLeads.filter((l) => l.org !== h.org);
          // No lead during this window: the holder must be the mco managing that MSHO/MSC+ enrolment.
          const planMco = refKey(plan.episode.managingOrganization);
          const problem =
            concurrentLeads.length === 0
              ? roles.has('mco') && h.org !== undefined && h.org === planMco
                ? undefined
                : `the member has no lead care coordinator then, and the holder is not the MCO managing ${plan.ref} (${planMco ?? 'no managingOrganization'})`
              : wrong.length > 0
                ? `the lead care coordinator ${wrong.map((l) => `${l.label} (${l.org ?? 'no organization'})`).join(', ')} works for another organization`
                : undefined;
          if (!problem) continue;
          out.push({
            key: `${h.label}#${s.extIndex}|ew|${ewEpisode.ref}|${h.org ?? ''}|${wrong.map((l) => l.label).join(',')}`,
            text:
              'For an MSHO/MSC+ member on the MN Elderly Waiver, waiver case management is done by the care ' +
              "coordinator: it must be held by the lead care coordinator's organization (or a tribal nation the member chose).",
            sites: [
              { ref: h.teamRef, expression: here, diagnostics: `${who} holds waiver-case-management ${h.periodText}, but ${problem}` },
              ...wrong.map((l) => ({ ref: l.teamRef, expression: l.orgPath, diagnostics: `${who} holds waiver-case-management on ${h.label}` })),
              { ref: ewEpisode.ref, expression: ewEpisode.path, diagnostics: `${who} holds waiver-case-management on ${h.label}, but ${problem}` },
            ],
          });
        }
      }
    }
    return out;
  },
};

// aco-no-ltss-authorization: an aco/mco may not order HCBS waiver or community LTSS services
// (ServiceRequest category service-category#hcbs-waiver or #community-ltss).
// Source: MassHealth "Care Coordination Guidance", section 6 "Who will do what", ACO/MCO Health Plan, what it
// will not do: "ACOs and MCOs will not authorize any ACO/MCO non-covered services including community-based
// LTSS and HCBS Waiver services"
// Exception, from Minnesota DHS Community-Based Services Manual, "Care coordination", "Secondary information"
// (Elderly Waiver): "People who are enrolled in MSHO or MSC+ and request EW or state plan services receive
// these services through the care coordinator ... Complete service authorizations ... The MCO is responsible
// for payment of services." An mco ordering hcbs-waiver services for a member enrolled in mn-elderly-waiver
// and mn-msho/mn-msc-plus is that MN care coordinator.
import { CodeSystems, ORDER_INTENTS } from '../codes.js';
import { enrolledThroughout, enrolments } from '../enrolment.js';
import { actorOrganization, organizationRoles } from '../organizations.js';
import { resourceKey } from '../refs.js';
import { occurrenceRange } from '../service-requests.js';
import { isInError } from '../status.js';
import type { Rule, Violation } from './types.js';

const LTSS_CATEGORIES = new Set(['hcbs-waiver', 'community-ltss']);

export const acoNoLtssAuthorization: Rule = {
  id: 'aco-no-ltss-authorization',
  summary: 'An ACO or MCO does not order HCBS waiver or community LTSS services (MN Elderly Waiver care coordination excepted).',
  source: 'MassHealth Care Coordination Guidance, section 6, ACO/MCO Health Plan: "will not authorize any ACO/MCO non-covered services"',
  appliesTo: ['ServiceRequest'],
  reads: ['serviceRequests', 'episodes'],
  // Each order is judged on its own and the enrolments: only written orders can newly fail, unless an
  // enrolment is written too (ending the MN Elderly Waiver can fail a stored order).
  select: (batch) => (batch.types.has('EpisodeOfCare') ? {} : { serviceRequests: [] }),
  async check(ctx) {
    const out: Violation[] = [];
    const mn = enrolments(ctx.record, 'mn-elderly-waiver', 'mn-msho', 'mn-msc-plus');
    for (const sr of ctx.record.serviceRequests) {
      // Proposals and plans are referrals, which ACOs/MCOs do make; only orders authorize.
      if (isInError(sr) || !ORDER_INTENTS.has(sr.intent)) continue;
      const org = await actorOrganization(ctx, sr.requester);
      const roles = await organizationRoles(ctx, org);
      if (!roles.has('aco') && !roles.has('mco')) continue;
      const ref = resourceKey(sr);
      (sr.category ?? []).forEach((cc, i) => {
        const code = (cc.coding ?? []).find((c) => c.system === CodeSystems.serviceCategory && LTSS_CATEGORIES.has(c.code ?? ''))?.code;
        if (!code) return;
        // Only an mco, only hcbs-waiver, only for a member enrolled in the EW and in MSHO or MSC+ over the
        // whole occurrence (coverage, not overlap).
        const range = occurrenceRange(sr);
        const mnCareCoordinator =
          code === 'hcbs-waiver' &&
          roles.has('mco') &&
          enrolledThroughout(mn, range, 'mn-elderly-waiver') &&
          enrolledThroughout(mn, range, 'mn-msho', 'mn-msc-plus');
        if (mnCareCoordinator) return;
        out.push({
          key: `${ref}|${code}|${org ?? ''}`,
          text:
            `An ACO or MCO cannot authorize ${code === 'hcbs-waiver' ? 'HCBS waiver' : 'community LTSS'} services: ` +
            'refer the member (intent "proposal") to the waiver case manager or the LTSS Third Party Administrator instead.',
          sites: [
            {
              ref,
              expression: `ServiceRequest.category[${i}]`,
              diagnostics: `requester ${sr.requester?.reference ?? ''} acts for ${org ?? '?'} (${[...roles].join('/')}) and intent is ${sr.intent}`,
            },
          ],
        });
      });
    }
    return out;
  },
};

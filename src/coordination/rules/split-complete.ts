// split-complete: every activity of a service-split plan has service, benefit and responsibleParty;
// in-plan services are the plan party's, out-of-plan services the Health Home's; a service appears once.
// Source: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes", paragraph on the template ASA: "a description of the in-plan and out-of-plan
// services and the respective responsibilities of the MLTCP and/or MAP Plan and the Health Home should be
// included as Appendix A or Appendix B"
import { organizationRoles } from '../organizations.js';
import { describeService, sharesCoding, describeCodingKey } from '../service-requests.js';
import { isServiceSplitPlan, splitPlan } from '../service-split.js';
import { isInError } from '../status.js';
import type { Rule, Violation } from './types.js';

export const splitComplete: Rule = {
  id: 'split-complete',
  summary:
    'Every service-split activity names service, benefit and responsible party; in-plan is the plan\'s, out-of-plan the Health Home\'s; each service once.',
  source: 'NY DOH MLTC Plans and Health Homes guidance, paragraph on the template ASA: "a description of the in-plan and out-of-plan services and the respective responsibilities"',
  appliesTo: ['CarePlan'],
  reads: ['carePlans'],
  // Each plan is judged on its own: only written plans can newly fail.
  select: () => ({ carePlans: [] }),
  async check(ctx) {
    const out: Violation[] = [];
    for (const plan of ctx.record.carePlans) {
      if (isInError(plan) || !isServiceSplitPlan(plan)) continue;
      const split = splitPlan(plan);
      const planParties = new Set<string>();
      const homes = new Set<string>();
      for (const { org } of split.parties) {
        const roles = await organizationRoles(ctx, org);
        if (roles.has('mltcp-plan') || roles.has('map-plan')) planParties.add(org);
        if (roles.has('health-home')) homes.add(org);
      }
      const fail = (key: string, path: string, text: string, diagnostics: string): void => {
        out.push({ key: `${split.ref}|${key}`, text, sites: [{ ref: split.ref, expression: path, diagnostics }] });
      };
      split.activities.forEach((a, i) => {
        const missing = [
          a.serviceKeys.size === 0 ? 'service' : undefined,
          a.benefit === 'in-plan' || a.benefit === 'out-of-plan' ? undefined : 'benefit',
          a.responsibleParty ? undefined : 'responsibleParty',
        ].filter((m): m is string => m !== undefined);
        if (missing.length > 0) {
          fail(
            `activity[${a.index}]|missing|${missing.join(',')}`,
            a.path,
            'Each service in the ASA service split must say which service it is, whether it is in-plan or out-of-plan, and who is responsible for it.',
            `activity[${a.index}] service-split is missing ${missing.join(', ')}`,
          );
        }
        const party = a.responsibleParty;
        if (party && a.benefit === 'in-plan' && !planParties.has(party)) {
          fail(
            `activity[${a.index}]|in-plan|${party}`,
            a.path,
            'An in-plan service is the responsibility of the MLTCP/MAP plan that is party to the ASA.',
            `${describeService(a.service)} is in-plan but responsibleParty is ${party}; the plan party is ${[...planParties].join(', ') || 'missing from asa-parties'}`,
          );
        }
        if (party && a.benefit === 'out-of-plan' && !homes.has(party)) {
          fail(
            `activity[${a.index}]|out-of-plan|${party}`,
            a.path,
            'An out-of-plan service is the responsibility of the Health Home that is party to the ASA.',
            `${describeService(a.service)} is out-of-plan but responsibleParty is ${party}; the Health Home party is ${[...homes].join(', ') || 'missing from asa-parties'}`,
          );
        }
        for (let k = 0; k < i; k++) {
          const earlier = split.activities[k];
          const shared = earlier ? sharesCoding(earlier.serviceKeys, a.serviceKeys) : undefined;
          if (!earlier || !shared) continue;
          fail(
            `activity[${earlier.index}]~activity[${a.index}]|dup`,
            a.path,
            'Each service appears once in the service split: one benefit and one responsible party per service.',
            `${split.ref} activity[${earlier.index}] already lists ${describeCodingKey(shared)}`,
          );
          break;
        }
      });
    }
    return out;
  },
};

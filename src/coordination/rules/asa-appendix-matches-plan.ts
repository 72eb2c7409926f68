// asa-appendix-matches-plan: a service-split plan whose plan party is mltcp-plan says Appendix A;
// map-plan says Appendix B.
// Source: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes", paragraph on the template ASA: "a description of the in-plan and out-of-plan
// services and the respective responsibilities of the MLTCP and/or MAP Plan and the Health Home should be
// included as Appendix A or Appendix B respectively to the ASA"
import { organizationRoles } from '../organizations.js';
import { isServiceSplitPlan, splitPlan } from '../service-split.js';
import { isInError } from '../status.js';
import type { Rule, Violation } from './types.js';

export const asaAppendixMatchesPlan: Rule = {
  id: 'asa-appendix-matches-plan',
  summary: 'A service-split plan with an MLTCP party says ASA Appendix A; with a MAP party, Appendix B.',
  source: 'NY DOH MLTC Plans and Health Homes guidance, paragraph on the template ASA: "Appendix A or Appendix B respectively"',
  appliesTo: ['CarePlan'],
  reads: ['carePlans'],
  // Each plan is judged on its own: only written plans can newly fail.
  select: () => ({ carePlans: [] }),
  async check(ctx) {
    const out: Violation[] = [];
    for (const plan of ctx.record.carePlans) {
      if (isInError(plan) || !isServiceSplitPlan(plan)) continue;
      const split = splitPlan(plan);
      const expected = new Map<string, string>();
      for (const party of split.parties) {
        const roles = await organizationRoles(ctx, party.org);
        if (roles.has('mltcp-plan')) expected.set('A', `${party.org} is an MLTCP plan (CarePlan.extension[${party.extIndex}])`);
        if (roles.has('map-plan')) expected.set('B', `${party.org} is a MAP plan (CarePlan.extension[${party.extIndex}])`);
      }
      // No MLTCP/MAP party at all: nothing to match here (the profile's asa-parties cardinality and
      // split-complete report the missing plan party).
      if (expected.size === 0) continue;
      const code = split.appendix?.code;
      if (code !== undefined && expected.has(code)) continue;
      const want = [...expected.keys()].join(' or ');
      out.push({
        key: `${split.ref}|appendix|${code ?? ''}|${want}`,
        text: `An MLTCP plan's service split is ASA Appendix A and a MAP plan's is Appendix B: this plan must say Appendix ${want}.`,
        sites: [
          {
            ref: split.ref,
            expression: split.appendix ? `CarePlan.extension[${split.appendix.extIndex}]` : 'CarePlan.extension',
            diagnostics: `${code === undefined ? 'no asa-appendix' : `asa-appendix ${code}`}, but ${[...expected.values()].join('; ')}`,
          },
        ],
      });
    }
    return out;
  },
};

// single-comprehensive-plan: a member has at most one active CarePlan with category comprehensive at any
// instant.
// Source: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes", paragraph on the template ASA: "the MAP plan and the Health Home must work
// collaboratively to ensure a single comprehensive plan of care is created for the enrollee and Health Home
// participant."
import type { CarePlan } from '@medplum/fhirtypes';
import { describePeriod, overlaps, periodRange } from '../period.js';
import type { Range } from '../period.js';
import { resourceKey } from '../refs.js';
import { comprehensiveCategoryIndex } from '../service-split.js';
import { isActiveCarePlan } from '../status.js';
import type { Rule, Violation } from './types.js';
import { factsOf, overlapping, pairKey } from './types.js';

interface Comprehensive {
  readonly plan: CarePlan;
  readonly ref: string;
  readonly category: number;
  readonly range: Range;
}

export const singleComprehensivePlan: Rule = {
  id: 'single-comprehensive-plan',
  summary: 'A member has at most one active comprehensive CarePlan at any instant.',
  source: 'NY DOH MLTC Plans and Health Homes guidance, paragraph on the template ASA: "a single comprehensive plan of care is created"',
  appliesTo: ['CarePlan'],
  reads: ['carePlans'],
  // A written comprehensive plan can only clash with a stored one whose period overlaps it.
  select: (batch) => ({ carePlans: overlapping(factsOf(batch, 'comprehensive-plan'), 'comprehensive-plan') }),
  check(ctx) {
    const plans: Comprehensive[] = ctx.record.carePlans.flatMap((plan) => {
      const category = comprehensiveCategoryIndex(plan);
      return category !== undefined && isActiveCarePlan(plan)
        ? [{ plan, ref: resourceKey(plan), category, range: periodRange(plan.period) }]
        : [];
    });
    const out: Violation[] = [];
    for (let j = 0; j < plans.length; j++) {
      for (let i = 0; i < j; i++) {
        const a = plans[i];
        const b = plans[j];
        // Only a pair with a resource this batch writes can be a new violation (the engine reports only what
        // a batch adds), so pairs of untouched resources are skipped: linear, not quadratic, in history.
        if (!a || !b || !(ctx.written.has(a.ref) || ctx.written.has(b.ref)) || !overlaps(a.range, b.range)) continue;
        out.push({
          key: pairKey('single-comprehensive-plan', a.ref, b.ref),
          text:
            'The member already has an active comprehensive plan of care for this period. Update that plan, or end ' +
            'it (or set it to completed/revoked) before this one starts.',
          sites: [
            {
              ref: b.ref,
              expression: `CarePlan.category[${b.category}]`,
              diagnostics: `${a.ref} is already the member's comprehensive plan of care ${describePeriod(a.plan.period)}`,
            },
            {
              ref: a.ref,
              expression: `CarePlan.category[${a.category}]`,
              diagnostics: `${b.ref} is already the member's comprehensive plan of care ${describePeriod(b.plan.period)}`,
            },
          ],
        });
      }
    }
    return Promise.resolve(out);
  },
};

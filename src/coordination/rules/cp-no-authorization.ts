// cp-no-authorization: a ServiceRequest whose requester is (on behalf of) an ltss-cp has intent proposal
// or plan, and no quantity or occurrence bounds beyond a start.
// Source: MassHealth "Care Coordination Guidance", section 6 "Who will do what", LTSS Community Partner, what
// it will not do: "LTSS CPs will not authorize services" / "LTSS CPs will not define the quantity or duration
// of services"
import { actorOrganization, hasRole } from '../organizations.js';
import { resourceKey } from '../refs.js';
import { isInError } from '../status.js';
import type { Rule, Violation } from './types.js';

const CP_INTENTS = new Set(['proposal', 'plan']);

export const cpNoAuthorization: Rule = {
  id: 'cp-no-authorization',
  summary: 'An LTSS Community Partner only proposes or plans services: no order, no quantity, no end or schedule.',
  source: 'MassHealth Care Coordination Guidance, section 6, LTSS Community Partner: "LTSS CPs will not authorize services ... will not define the quantity or duration"',
  appliesTo: ['ServiceRequest'],
  reads: ['serviceRequests'],
  // Each request is judged on its own: only written ones can newly fail.
  select: () => ({ serviceRequests: [] }),
  async check(ctx) {
    const out: Violation[] = [];
    for (const sr of ctx.record.serviceRequests) {
      if (isInError(sr)) continue;
      const org = await actorOrganization(ctx, sr.requester);
      if (!org || !(await hasRole(ctx, org, 'ltss-cp'))) continue;
      const ref = resourceKey(sr);
      const who = `requester ${sr.requester?.reference ?? ''} acts for ${org}, an LTSS Community Partner`;
      const fail = (aspect: string, expression: string, text: string, what: string): void => {
        out.push({ key: `${ref}|${aspect}`, text, sites: [{ ref, expression, diagnostics: `${what}; ${who}` }] });
      };
      if (!CP_INTENTS.has(sr.intent)) {
        fail('intent', 'ServiceRequest.intent', 'An LTSS Community Partner cannot authorize services: its requests must have intent "proposal" or "plan".', `intent is ${sr.intent}`);
      }
      if (sr.quantityQuantity || sr.quantityRatio || sr.quantityRange) {
        fail('quantity', 'ServiceRequest.quantity', 'An LTSS Community Partner does not set the quantity of a service: leave quantity out.', 'quantity is set');
      }
      if (sr.occurrencePeriod?.end) {
        fail('end', 'ServiceRequest.occurrence.ofType(Period).end', 'An LTSS Community Partner does not set the duration of a service: give only a start date.', `occurrencePeriod ends ${sr.occurrencePeriod.end}`);
      }
      const timing = sr.occurrenceTiming;
      if (timing && (timing.repeat || (timing.event?.length ?? 0) > 1 || timing.code)) {
        fail('timing', 'ServiceRequest.occurrence.ofType(Timing)', 'An LTSS Community Partner does not set the frequency or duration of a service: give only a start date.', 'occurrenceTiming sets a schedule');
      }
    }
    return out;
  },
};

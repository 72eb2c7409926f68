// no-duplicate-service: two active ServiceRequests with intent order (or a kind of order) for the same
// member, the same service code and overlapping occurrencePeriod cannot both exist, unless one
// `replaces` the other.
// Sources: MassHealth "Care Coordination Guidance", section 6, MassHealth LTSS Third Party Administrator,
// what it will do: "Review requested services for potential duplication and consult with case managers if
// there are concerns about potential service overlaps";
// "Managed Long-Term Services and Supports Program Framework: Best Practices", "Build a utilization
// management plan": "Creates integrity program to minimize duplication and reduce the potential for fraud and
// abuse"
import type { ServiceRequest } from '@medplum/fhirtypes';
import { ORDER_INTENTS } from '../codes.js';
import { overlaps } from '../period.js';
import { refKey, resourceKey } from '../refs.js';
import { codingKeys, describeCodingKey, describeOccurrence, occurrenceRange, sharesCoding } from '../service-requests.js';
import { isActiveServiceRequest } from '../status.js';
import type { Rule, Violation } from './types.js';
import { factsOf, overlapping, pairKey } from './types.js';

const replaces = (a: ServiceRequest, b: ServiceRequest): boolean =>
  (a.replaces ?? []).some((r) => refKey(r) === resourceKey(b));

export const noDuplicateService: Rule = {
  id: 'no-duplicate-service',
  summary: 'No two active orders for the same member and service with overlapping occurrence, unless one replaces the other.',
  source:
    'MassHealth Care Coordination Guidance, section 6, LTSS Third Party Administrator: "Review requested services for potential duplication"; Managed LTSS Program Framework: Best Practices, utilization management plan: "minimize duplication"',
  appliesTo: ['ServiceRequest'],
  reads: ['serviceRequests'],
  // A written order can only duplicate a stored order of one of its codings whose occurrence overlaps it.
  select: (batch) => ({ serviceRequests: overlapping(factsOf(batch, 'order'), 'order') }),
  check(ctx) {
    const orders = ctx.record.serviceRequests
      .filter((sr) => isActiveServiceRequest(sr) && ORDER_INTENTS.has(sr.intent))
      .map((sr) => ({ sr, ref: resourceKey(sr), codes: codingKeys(sr.code), range: occurrenceRange(sr) }));
    const out: Violation[] = [];
    for (let j = 0; j < orders.length; j++) {
      for (let i = 0; i < j; i++) {
        const a = orders[i];
        const b = orders[j];
        // Only a pair with a resource this batch writes can be a new violation (the engine reports only what
        // a batch adds), so pairs of untouched resources are skipped: linear, not quadratic, in history.
        if (!a || !b || !(ctx.written.has(a.ref) || ctx.written.has(b.ref))) continue;
        const shared = sharesCoding(a.codes, b.codes);
        if (!shared || !overlaps(a.range, b.range) || replaces(a.sr, b.sr) || replaces(b.sr, a.sr)) continue;
        const service = describeCodingKey(shared);
        out.push({
          key: pairKey('no-duplicate-service', a.ref, b.ref, shared),
          code: 'duplicate',
          text:
            `${service} is already ordered for the member for an overlapping period. Change or end the existing ` +
            'order, or mark the new order as replacing it (replaces).',
          sites: [
            { ref: b.ref, expression: 'ServiceRequest.code', diagnostics: `${a.ref} already orders ${service} ${describeOccurrence(a.sr)}` },
            { ref: a.ref, expression: 'ServiceRequest.code', diagnostics: `${b.ref} already orders ${service} ${describeOccurrence(b.sr)}` },
          ],
        });
      }
    }
    return Promise.resolve(out);
  },
};

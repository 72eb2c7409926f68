// request-matches-split: a ServiceRequest for a member with an active service-split plan is basedOn that
// plan, its code is one of the plan's services, and its requester (or the requester's organization) is
// that service's responsibleParty.
// Source: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes", paragraph on the template ASA: "MLTCP Plans are responsible for coordination with
// the Health Home but are not responsible for Health Home management or performance or any services outside
// the scope of the MLTC Plan benefit package."
import { actorOrganization } from '../organizations.js';
import { overlaps, periodRange } from '../period.js';
import { refKey, resourceKey } from '../refs.js';
import { codingKeys, describeCodingKey, describeService, occurrenceRange, sharesCoding } from '../service-requests.js';
import type { SplitActivity, SplitPlan } from '../service-split.js';
import { isServiceSplitPlan, splitPlan } from '../service-split.js';
import { isActiveCarePlan, isLiveServiceRequest } from '../status.js';
import type { Rule, Violation } from './types.js';
import type { ServiceRequest } from '@medplum/fhirtypes';

export const requestMatchesSplit: Rule = {
  id: 'request-matches-split',
  summary:
    "A request for a member with an active service-split plan is basedOn it, is one of its services, and comes from that service's responsible party.",
  source:
    'NY DOH MLTC Plans and Health Homes guidance, paragraph on the template ASA: "not responsible for ... any services outside the scope of the MLTC Plan benefit package"',
  appliesTo: ['ServiceRequest'],
  reads: ['carePlans', 'serviceRequests'],
  // Only written requests are judged, each against the active split plans during its occurrence.
  select: (batch) => ({
    serviceRequests: [],
    carePlans: batch.states
      .filter((r): r is ServiceRequest => r.resourceType === 'ServiceRequest')
      .map((sr) => ({ kind: 'split-plan', key: '', range: occurrenceRange(sr) })),
  }),
  async check(ctx) {
    const out: Violation[] = [];
    const plans = ctx.record.carePlans.filter((p) => isActiveCarePlan(p) && isServiceSplitPlan(p)).map(splitPlan);
    if (plans.length === 0) return out;
    for (const sr of ctx.record.serviceRequests) {
      const ref = resourceKey(sr);
      // Only the requests being written: a split plan agreed later does not retroactively invalidate
      // earlier requests (they are held to it when next written).
      if (!ctx.written.has(ref) || !isLiveServiceRequest(sr)) continue;
      const range = occurrenceRange(sr);
      const applicable = plans.filter((p) => overlaps(periodRange(p.plan.period), range));
      if (applicable.length === 0) continue;
      const basedOn = new Set((sr.basedOn ?? []).flatMap((b) => refKey(b) ?? []));
      const named = applicable.filter((p) => basedOn.has(p.ref));
      const planNames = applicable.map((p) => p.ref).join(', ');
      if (named.length === 0) {
        out.push({
          key: `${ref}|basedOn|${planNames}`,
          text: "The member has an active ASA service-split plan: the request must be based on it (basedOn).",
          sites: [{ ref, expression: 'ServiceRequest.basedOn', diagnostics: `${planNames} is the member's active service-split plan` }],
        });
      }
      const targets: SplitPlan[] = named.length > 0 ? named : applicable;
      const codes = codingKeys(sr.code);
      const matches: Array<{ plan: SplitPlan; activity: SplitActivity }> = targets.flatMap((plan) =>
        plan.activities.filter((a) => sharesCoding(a.serviceKeys, codes)).map((activity) => ({ plan, activity })),
      );
      if (matches.length === 0) {
        const listed = targets.flatMap((p) => p.activities.map((a) => describeService(a.service)));
        out.push({
          key: `${ref}|code|${[...codes].sort().join(',')}`,
          text: "The requested service is not in the member's ASA service split, so neither the plan nor the Health Home is responsible for it.",
          sites: [
            {
              ref,
              expression: 'ServiceRequest.code',
              diagnostics: `${describeService(sr.code)} is not among the services of ${targets.map((p) => p.ref).join(', ')} (${listed.join(', ') || 'no services'})`,
            },
          ],
        });
        continue;
      }
      const requester = refKey(sr.requester);
      const org = await actorOrganization(ctx, sr.requester);
      const responsible = matches.some((m) => m.activity.responsibleParty !== undefined && (m.activity.responsibleParty === requester || m.activity.responsibleParty === org));
      if (responsible) continue;
      const m = matches[0];
      const shared = m ? sharesCoding(m.activity.serviceKeys, codes) : undefined;
      out.push({
        key: `${ref}|requester|${requester ?? ''}|${org ?? ''}`,
        text:
          "Only the organization the ASA service split makes responsible for this service may request it" +
          (org === undefined && requester?.startsWith('Practitioner/')
            ? ' (a Practitioner requester has no organization: use the PractitionerRole or the Organization).'
            : '.'),
        sites: [
          {
            ref,
            expression: 'ServiceRequest.requester',
            diagnostics: `${m?.plan.ref} activity[${m?.activity.index}]: ${shared ? describeCodingKey(shared) : 'the service'} is ${m?.activity.benefit ?? 'unsplit'}, the responsibility of ${m?.activity.responsibleParty ?? 'nobody'}; requester is ${requester ?? 'missing'}${org && org !== requester ? ` (${org})` : ''}`,
          },
        ],
      });
    }
    return out;
  },
};

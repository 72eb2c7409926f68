// The NY service-split plan (service-split-care-plan): the ASA appendix, the parties to the ASA, and
// each activity's service / benefit / responsible party.
import type { CarePlan, CodeableConcept } from '@medplum/fhirtypes';
import { CodeSystems, COMPREHENSIVE_PLAN, Extensions, Profiles } from './codes.js';
import { extensionsByUrl, subExtensions } from './extensions.js';
import { refKey, resourceKey } from './refs.js';
import { codingKeys } from './service-requests.js';

export interface SplitActivity {
  readonly index: number;
  /** Index of the service-split extension in activity.extension, if present. */
  readonly extIndex: number | undefined;
  readonly service: CodeableConcept | undefined;
  readonly serviceKeys: ReadonlySet<string>;
  readonly benefit: string | undefined;
  readonly responsibleParty: string | undefined;
  /** `CarePlan.activity[i]` or `CarePlan.activity[i].extension[k]` */
  readonly path: string;
}

export interface SplitPlan {
  readonly plan: CarePlan;
  readonly ref: string;
  readonly appendix: { readonly code: string | undefined; readonly extIndex: number } | undefined;
  readonly parties: ReadonlyArray<{ readonly org: string; readonly extIndex: number }>;
  readonly activities: readonly SplitActivity[];
}

/** Index of the `care-plan-category#comprehensive` category, if the plan is the comprehensive one. */
export function comprehensiveCategoryIndex(plan: CarePlan): number | undefined {
  const i = (plan.category ?? []).findIndex((cc) =>
    (cc.coding ?? []).some((c) => c.system === CodeSystems.carePlanCategory && c.code === COMPREHENSIVE_PLAN),
  );
  return i < 0 ? undefined : i;
}

/**
 * A plan is a service-split plan when it claims the profile or carries any ASA/split extension: a plan
 * written without the profile but with split data is still held to the split rules.
 */
export function isServiceSplitPlan(plan: CarePlan): boolean {
  return (
    (plan.meta?.profile ?? []).includes(Profiles.serviceSplitCarePlan) ||
    extensionsByUrl(plan, Extensions.asaAppendix).length > 0 ||
    extensionsByUrl(plan, Extensions.asaParties).length > 0 ||
    (plan.activity ?? []).some((a) => extensionsByUrl(a, Extensions.serviceSplit).length > 0)
  );
}

export function splitPlan(plan: CarePlan): SplitPlan {
  const appendixExt = extensionsByUrl(plan, Extensions.asaAppendix)[0];
  const parties = extensionsByUrl(plan, Extensions.asaParties).flatMap(({ index, value }) => {
    const org = refKey(value.valueReference);
    return org ? [{ org, extIndex: index }] : [];
  });
  const activities = (plan.activity ?? []).map((activity, index): SplitActivity => {
    const split = extensionsByUrl(activity, Extensions.serviceSplit)[0];
    const service = subExtensions(split?.value, 'service')[0]?.valueCodeableConcept;
    const benefit = subExtensions(split?.value, 'benefit')[0]?.valueCoding;
    const party = subExtensions(split?.value, 'responsibleParty')[0]?.valueReference;
    return {
      index,
      extIndex: split?.index,
      service,
      serviceKeys: codingKeys(service),
      // Codings match on system and code: a benefit coding without the benefit-split system is no benefit.
      benefit: benefit?.system === CodeSystems.benefitSplit ? benefit.code : undefined,
      responsibleParty: refKey(party),
      path: split ? `CarePlan.activity[${index}].extension[${split.index}]` : `CarePlan.activity[${index}]`,
    };
  });
  return {
    plan,
    ref: resourceKey(plan),
    appendix: appendixExt ? { code: appendixExt.value.valueCoding?.code, extIndex: appendixExt.index } : undefined,
    parties,
    activities,
  };
}

// The contract's rules, in the contract's order. docs/rules.md lists exactly these ids (tested).
import { acoNoLtssAuthorization } from './aco-no-ltss-authorization.js';
import { asaAppendixMatchesPlan } from './asa-appendix-matches-plan.js';
import { coordinatorQualified } from './coordinator-qualified.js';
import { cpNoAuthorization } from './cp-no-authorization.js';
import { cpOptOut } from './cp-opt-out.js';
import { leadDocumented } from './lead-documented.js';
import { noDuplicateService } from './no-duplicate-service.js';
import { requestMatchesSplit } from './request-matches-split.js';
import { scopeAllowedForRole } from './scope-allowed-for-role.js';
import { singleComprehensivePlan } from './single-comprehensive-plan.js';
import { singleCoordinatorPerScope } from './single-coordinator-per-scope.js';
import { singleLead } from './single-lead.js';
import { splitComplete } from './split-complete.js';
import type { Rule } from './types.js';
import { waiverCaseManagerMatchesWaiver } from './waiver-case-manager-matches-waiver.js';

export type { Rule, RuleContext, Site, Violation } from './types.js';

export const RULES: readonly Rule[] = [
  singleLead,
  leadDocumented,
  singleCoordinatorPerScope,
  scopeAllowedForRole,
  singleComprehensivePlan,
  asaAppendixMatchesPlan,
  splitComplete,
  requestMatchesSplit,
  noDuplicateService,
  cpNoAuthorization,
  acoNoLtssAuthorization,
  cpOptOut,
  coordinatorQualified,
  waiverCaseManagerMatchesWaiver,
];

export const RULE_BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((r) => [r.id, r]));

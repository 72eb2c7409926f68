// Codes from the public coordination contract (docs/coordination.md), under the names
// the rules use. The canonical URLs themselves live once, in src/fhir/profiles/urls.ts.
import { CODE_SYSTEM_URLS, CONCORD_BASE, EXTENSION_URLS, EXTERNAL_SYSTEM_URLS, PROFILE_URLS } from '../fhir/profiles/urls.js';

export const BASE = CONCORD_BASE;

export const CodeSystems = {
  ...CODE_SYSTEM_URLS,
  nucc: EXTERNAL_SYSTEM_URLS.nuccTaxonomy,
  hcpcs: EXTERNAL_SYSTEM_URLS.hcpcs,
  cpt: EXTERNAL_SYSTEM_URLS.cpt,
  v3ActCode: EXTERNAL_SYSTEM_URLS.v3ActCode,
  consentScope: EXTERNAL_SYSTEM_URLS.consentScope,
} as const;

export const Extensions = EXTENSION_URLS;

/** Sub-extension urls are relative names, as in any complex extension. */
export const LeadDesignationParts = ['designatedBy', 'basis', 'reason', 'date'] as const;
export const ServiceSplitParts = ['service', 'benefit', 'responsibleParty'] as const;

export const Profiles = PROFILE_URLS;

export type OrganizationRole =
  | 'mltcp-plan'
  | 'map-plan'
  | 'health-home'
  | 'aco'
  | 'mco'
  | 'ltss-cp'
  | 'bh-cp'
  | 'waiver-agency'
  | 'ltss-provider'
  | 'tpa'
  | 'county'
  | 'tribal-nation';

export type ProgramCode =
  | 'ny-mltcp'
  | 'ny-map'
  | 'ny-health-home'
  | 'ma-aco'
  | 'ma-mco'
  | 'ma-ltss-cp'
  | 'mn-msho'
  | 'mn-msc-plus'
  | 'mn-snbc'
  | 'mn-elderly-waiver'
  | 'mn-disability-waiver';

export type CoordinationScope =
  | 'ltc'
  | 'bh-and-out-of-plan'
  | 'comprehensive'
  | 'medical'
  | 'ltss-navigation'
  | 'waiver-case-management'
  | 'care-transitions';

export const LEAD_CARE_MANAGER = 'lead-care-manager';
export const COMPREHENSIVE_PLAN = 'comprehensive';
export const CERTIFIED_ASSESSOR = 'certified-assessor';
export const OPTOUT = 'OPTOUT';

/** The contract's rule ids, in the contract's order. */
export const RULE_IDS = [
  'single-lead',
  'lead-documented',
  'single-coordinator-per-scope',
  'scope-allowed-for-role',
  'single-comprehensive-plan',
  'asa-appendix-matches-plan',
  'split-complete',
  'request-matches-split',
  'no-duplicate-service',
  'cp-no-authorization',
  'aco-no-ltss-authorization',
  'cp-opt-out',
  'coordinator-qualified',
  'waiver-case-manager-matches-waiver',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/**
 * Scopes each organization role may hold (scope-allowed-for-role). The mco's extra
 * waiver-case-management for mn-elderly-waiver members is conditional and lives in the rule.
 */
export const SCOPES_BY_ROLE: Readonly<Record<OrganizationRole, readonly CoordinationScope[]>> = {
  'mltcp-plan': ['ltc', 'care-transitions'],
  'map-plan': ['ltc', 'comprehensive', 'care-transitions'],
  'health-home': ['bh-and-out-of-plan', 'care-transitions'],
  aco: ['medical', 'comprehensive', 'care-transitions'],
  mco: ['medical', 'comprehensive', 'care-transitions'],
  'ltss-cp': ['ltss-navigation'],
  'bh-cp': ['bh-and-out-of-plan'],
  'waiver-agency': ['waiver-case-management'],
  county: ['waiver-case-management', 'comprehensive'],
  'tribal-nation': ['waiver-case-management', 'comprehensive'],
  'ltss-provider': [],
  tpa: [],
};

/** NUCC taxonomy codes for the MN care coordinator professions (Minnesota DHS "Care coordination"); any `20…` code is a physician. */
export const MN_QUALIFYING_NUCC = [
  '104100000X', // social worker
  '1041C0700X', // licensed (clinical) social worker
  '163W00000X', // registered nurse
  '163WC1500X', // public health nurse
  '363A00000X', // physician assistant
  '363L00000X', // nurse practitioner
] as const;

/** R4 request intents that are a kind of order (the `order` branch of the request-intent hierarchy). */
export const ORDER_INTENTS: ReadonlySet<string> = new Set([
  'order',
  'original-order',
  'reflex-order',
  'filler-order',
  'instance-order',
]);

// URLs and codes from the public coordination contract (/work/shared/design/coordination.md). They are
// public API: spelled exactly as the contract spells them. src/fhir/profiles/urls.ts will hold the
// server-wide copies; the lead dedupes once both exist.

export const BASE = 'https://concord-fhir.org/fhir';

const cs = (id: string): string => `${BASE}/CodeSystem/${id}`;
const sd = (id: string): string => `${BASE}/StructureDefinition/${id}`;

export const CodeSystems = {
  organizationRole: cs('organization-role'),
  program: cs('program'),
  coordinationScope: cs('coordination-scope'),
  careTeamRole: cs('care-team-role'),
  serviceCategory: cs('service-category'),
  rule: cs('rule'),
  benefitSplit: cs('benefit-split'),
  asaAppendix: cs('asa-appendix'),
  carePlanCategory: cs('care-plan-category'),
  qualification: cs('qualification'),
  nucc: 'http://nucc.org/provider-taxonomy',
  hcpcs: 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets',
  cpt: 'http://www.ama-assn.org/go/cpt',
  v3ActCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
} as const;

export const Extensions = {
  coordinationScope: sd('coordination-scope'),
  leadDesignation: sd('lead-designation'),
  asaAppendix: sd('asa-appendix'),
  asaParties: sd('asa-parties'),
  serviceSplit: sd('service-split'),
} as const;

/** Sub-extension urls are relative names, as in any complex extension. */
export const LeadDesignationParts = ['designatedBy', 'basis', 'reason', 'date'] as const;
export const ServiceSplitParts = ['service', 'benefit', 'responsibleParty'] as const;

export const Profiles = {
  coordinationCareTeam: sd('coordination-care-team'),
  serviceSplitCarePlan: sd('service-split-care-plan'),
  coordinatedServiceRequest: sd('coordinated-service-request'),
  coordinationConsent: sd('coordination-consent'),
} as const;

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

/** NUCC taxonomy codes for the MN care coordinator professions (003); any `20…` code is a physician. */
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

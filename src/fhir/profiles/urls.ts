// Every canonical URL of the Concord coordination contract (docs/coordination.md), in one
// place: they are public API, so no other module re-types them.

export const CONCORD_BASE = 'https://concord-fhir.org/fhir';

const sd = (id: string): string => `${CONCORD_BASE}/StructureDefinition/${id}`;
const cs = (id: string): string => `${CONCORD_BASE}/CodeSystem/${id}`;
const vs = (id: string): string => `${CONCORD_BASE}/ValueSet/${id}`;

export const PROFILE_URLS = {
  coordinationCareTeam: sd('coordination-care-team'),
  serviceSplitCarePlan: sd('service-split-care-plan'),
  coordinatedServiceRequest: sd('coordinated-service-request'),
  coordinationConsent: sd('coordination-consent'),
} as const;

/** The four Concord resource profiles. */
export const CONCORD_PROFILES: readonly string[] = Object.values(PROFILE_URLS);

export const EXTENSION_URLS = {
  coordinationScope: sd('coordination-scope'),
  leadDesignation: sd('lead-designation'),
  asaAppendix: sd('asa-appendix'),
  asaParties: sd('asa-parties'),
  serviceSplit: sd('service-split'),
} as const;

/** Sub-extension urls of the complex extensions (relative, as FHIR complex extensions use them). */
export const LEAD_DESIGNATION_PARTS = {
  designatedBy: 'designatedBy',
  basis: 'basis',
  reason: 'reason',
  date: 'date',
} as const;

export const SERVICE_SPLIT_PARTS = {
  service: 'service',
  benefit: 'benefit',
  responsibleParty: 'responsibleParty',
} as const;

export const CODE_SYSTEM_URLS = {
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
} as const;

/** ValueSets exist for the code systems a profile binds to (each holds the whole code system). */
export const VALUE_SET_URLS = {
  coordinationScope: vs('coordination-scope'),
  benefitSplit: vs('benefit-split'),
  asaAppendix: vs('asa-appendix'),
} as const;

/** External code systems the contract names. */
export const EXTERNAL_SYSTEM_URLS = {
  hcpcs: 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets',
  cpt: 'http://www.ama-assn.org/go/cpt',
  nuccTaxonomy: 'http://nucc.org/provider-taxonomy',
  v3ActCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
} as const;

export function isConcordUrl(url: string): boolean {
  return url.startsWith(CONCORD_BASE + '/');
}

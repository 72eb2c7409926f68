// Concord's conformance resources (profiles, extensions, code systems, value sets) and validation
// against its profiles.
export type { ConformanceResource } from './conformance.js';
export { findCodeSystem, findStructureDefinition, findValueSet, loadConformanceResources } from './conformance.js';
export { ignoredProfileUrlsOf, profileUrlsOf, UNKNOWN_PROFILE_POLICY } from './claimed-profiles.js';
export { getProfileSchema } from './medplum-schema.js';
export { validateAgainstProfile } from './validate-profile.js';
export {
  CODE_SYSTEM_URLS,
  CONCORD_BASE,
  CONCORD_PROFILES,
  EXTENSION_URLS,
  EXTERNAL_SYSTEM_URLS,
  isConcordUrl,
  LEAD_DESIGNATION_PARTS,
  PROFILE_URLS,
  SERVICE_SPLIT_PARTS,
  VALUE_SET_URLS,
} from './urls.js';

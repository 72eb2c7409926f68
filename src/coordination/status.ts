// "Active" as the contract defines it: a status from these sets (and, separately, a period covering the
// instant, which the rules check with period.ts).
import type { CarePlan, CareTeam, Consent, EpisodeOfCare, ServiceRequest } from '@medplum/fhirtypes';
import { CodeSystems } from './codes.js';

const ACTIVE_CARE_TEAM = new Set(['proposed', 'active', 'suspended']);
const ACTIVE_CARE_PLAN = new Set(['active', 'on-hold']);
const ACTIVE_SERVICE_REQUEST = new Set(['active', 'on-hold']);
/** Requests still in play (draft included): those a rule about *requesting* (not ordering) looks at. */
const LIVE_SERVICE_REQUEST = new Set(['draft', 'active', 'on-hold']);

/** A CareTeam without status (R4 leaves it optional outside the profile) counts as active: a missing status must not hide a lead. */
export const isActiveCareTeam = (t: CareTeam): boolean => t.status === undefined || ACTIVE_CARE_TEAM.has(t.status);
export const isActiveCarePlan = (p: CarePlan): boolean => ACTIVE_CARE_PLAN.has(p.status);
export const isActiveServiceRequest = (r: ServiceRequest): boolean => ACTIVE_SERVICE_REQUEST.has(r.status);
export const isLiveServiceRequest = (r: ServiceRequest): boolean => LIVE_SERVICE_REQUEST.has(r.status);
/** Enrolment: the contract's EpisodeOfCare `status` active. */
export const isActiveEpisode = (e: EpisodeOfCare): boolean => e.status === 'active';
/** Structural rules (documentation, split completeness, CP limits) skip only records entered in error. */
export const isInError = (r: { status?: string }): boolean => r.status === 'entered-in-error';

/** A data-sharing Consent (coordination-consent): active, scope patient-privacy, provision permit; its actors may see the member. */
export const isDataSharingConsent = (c: Consent): boolean =>
  c.status === 'active' &&
  c.provision?.type === 'permit' &&
  (c.scope?.coding ?? []).some((k) => k.system === CodeSystems.consentScope && k.code === 'patient-privacy');

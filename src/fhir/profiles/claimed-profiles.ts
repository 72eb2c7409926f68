// Which Concord profiles a resource claims in meta.profile.
//
// Policy for other profile URLs: R4 lets a server ignore profiles it does not know, and Concord does
// exactly that: a resource claiming an unknown (non-Concord) profile is accepted, validated against the
// base spec and whatever Concord profiles it also claims, and its meta.profile is stored as sent. An
// unknown URL under Concord's own base, however, is not "someone else's" profile but a mistake against
// our public API, so it is treated as claimed and validateAgainstProfile reports it as unknown.
import type { Resource } from '@medplum/fhirtypes';
import { isConcordUrl } from './urls.js';

export const UNKNOWN_PROFILE_POLICY = 'accept-without-validation' as const;

/** Drops a `|version` suffix: Concord publishes one version of each profile. */
const unversioned = (canonical: string): string => canonical.split('|')[0] ?? canonical;

/** The Concord profile URLs (unversioned, deduplicated, in order) the resource claims. */
export function profileUrlsOf(resource: Resource): string[] {
  const claimed = (resource.meta?.profile ?? []).map(unversioned).filter(isConcordUrl);
  return [...new Set(claimed)];
}

/** The claimed profiles Concord ignores (not under Concord's base), per UNKNOWN_PROFILE_POLICY. */
export function ignoredProfileUrlsOf(resource: Resource): string[] {
  return (resource.meta?.profile ?? []).filter((p) => !isConcordUrl(unversioned(p)));
}

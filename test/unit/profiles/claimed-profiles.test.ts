import type { CareTeam } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { ignoredProfileUrlsOf, PROFILE_URLS, profileUrlsOf, validateAgainstProfile } from '../../../src/fhir/profiles/index.js';
import { careTeam, carePlan } from './fixtures.js';
import { summary } from './helpers.js';

describe('profileUrlsOf', () => {
  it('returns the claimed Concord profiles, unversioned and deduplicated', () => {
    const team: CareTeam = {
      ...careTeam(),
      meta: {
        profile: [
          'http://hl7.org/fhir/us/core/StructureDefinition/us-core-careteam',
          `${PROFILE_URLS.coordinationCareTeam}|0.1.0`,
          PROFILE_URLS.coordinationCareTeam,
        ],
      },
    };
    expect(profileUrlsOf(team)).toEqual([PROFILE_URLS.coordinationCareTeam]);
    expect(ignoredProfileUrlsOf(team)).toEqual(['http://hl7.org/fhir/us/core/StructureDefinition/us-core-careteam']);
  });

  it('returns nothing for a resource without meta.profile', () => {
    const { meta: _meta, ...team } = careTeam();
    expect(profileUrlsOf(team as CareTeam)).toEqual([]);
  });

  it('treats an unknown URL under the Concord base as claimed, and validation reports it', () => {
    const team = careTeam();
    const url = 'https://concord-fhir.org/fhir/StructureDefinition/coordination-care-teem';
    team.meta = { profile: [url] };
    expect(profileUrlsOf(team)).toEqual([url]);
    expect(summary(validateAgainstProfile(team, url))).toEqual(['not-supported CareTeam.meta.profile']);
  });

  it('reports a profile claimed by the wrong resource type', () => {
    expect(summary(validateAgainstProfile(carePlan(), PROFILE_URLS.coordinationCareTeam))).toEqual(['invalid CarePlan.meta.profile']);
  });
});

// Medplum's parsed form of a Concord StructureDefinition, for code that walks an InternalTypeSchema
// (e.g. a binding walker). medplum's loadDataType indexes it under the profile URL, so it is parsed once
// per process; validateResource(resource, { profile }) would re-parse it on every call.
import type { InternalTypeSchema } from '@medplum/core';
import { isProfileLoaded, loadDataType, tryGetProfile } from '@medplum/core';
import { loadDefinitions } from '../definitions.js';
import { findStructureDefinition } from './conformance.js';

export function getProfileSchema(profileUrl: string): InternalTypeSchema | undefined {
  if (!isProfileLoaded(profileUrl)) {
    const sd = findStructureDefinition(profileUrl);
    if (!sd) return undefined;
    loadDefinitions();
    loadDataType(sd);
  }
  return tryGetProfile(profileUrl);
}

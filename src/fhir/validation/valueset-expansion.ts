// Expands the ValueSets that required bindings point at, from the definitions shipped with the server.
// Only what can be enumerated exactly is expanded: whole CodeSystems with content 'complete', explicit concept
// lists and includes of other ValueSets. Anything else (filters, versioned includes, systems we do not hold
// such as SNOMED CT, LOINC, UCUM, BCP-47) makes the affected system "incomplete", and a code from an
// incomplete system is never rejected: refusing a valid resource is worse than letting an odd code through.
// Excludes are applied where they are explicit; an exclude we cannot evaluate only leaves the expansion a
// superset, which is still safe for rejecting codes that are not in it.
import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';
import { addTerminologyResources, findCodeSystem, findValueSet, stripVersion } from './terminology-source.js';

export interface Expansion {
  /** Codes known to be in the value set, by system. */
  readonly codes: ReadonlyMap<string, ReadonlySet<string>>;
  /** Systems for which the value set may hold codes we could not enumerate. */
  readonly incompleteSystems: ReadonlySet<string>;
  /** True when some part could not be attributed to any system (e.g. an unknown included ValueSet). */
  readonly opaque: boolean;
}

/** in: member; out: the system is enumerated and the code is not in it; foreign: the system is not part of
 * the value set (or no system was given); unknown: cannot be decided. */
export type Membership = 'in' | 'out' | 'foreign' | 'unknown';

interface MutableExpansion {
  codes: Map<string, Set<string>>;
  incompleteSystems: Set<string>;
  opaque: boolean;
}

const cache = new Map<string, Expansion>();
const inProgress = new Set<string>();

/** The expansion of a ValueSet by canonical url, or undefined when the ValueSet is not known at all. */
export function expandValueSet(url: string): Expansion | undefined {
  const key = stripVersion(url);
  const cached = cache.get(key);
  if (cached) return cached;
  const vs = findValueSet(key);
  if (!vs) return undefined;
  if (inProgress.has(key)) return { codes: new Map(), incompleteSystems: new Set(), opaque: true };
  inProgress.add(key);
  try {
    const expansion = expand(vs);
    cache.set(key, expansion);
    return expansion;
  } finally {
    inProgress.delete(key);
  }
}

/** Makes further CodeSystems/ValueSets (e.g. from the server's profiles folder) available to bindings. */
export function registerTerminology(resources: readonly (CodeSystem | ValueSet)[]): void {
  addTerminologyResources(resources);
  // Earlier expansions may have treated these urls as unknown.
  cache.clear();
}

/** Expands a ValueSet resource directly, without caching (its includes of other ValueSets are cached). */
export function expand(vs: ValueSet): Expansion {
  const out: MutableExpansion = { codes: new Map(), incompleteSystems: new Set(), opaque: false };
  const compose = vs.compose;
  if (!compose) {
    // A ValueSet shipped with only an expansion is still enumerable.
    const contains = vs.expansion?.contains;
    if (contains && (vs.expansion?.total === undefined || vs.expansion.total === contains.length)) {
      for (const c of contains) if (c.system && c.code) addCode(out, c.system, c.code);
    } else {
      out.opaque = true;
    }
    return out;
  }
  for (const include of compose.include) addInclude(out, include);
  for (const exclude of compose.exclude ?? []) applyExclude(out, exclude);
  return out;
}

function addCode(out: MutableExpansion, system: string, code: string): void {
  let set = out.codes.get(system);
  if (!set) out.codes.set(system, (set = new Set()));
  set.add(code);
}

function addInclude(out: MutableExpansion, include: ValueSetComposeInclude): void {
  const system = include.system;
  if (include.valueSet?.length) {
    // An include with both system and valueSet is their intersection; not worth modelling for R4.
    if (system) {
      out.incompleteSystems.add(system);
      return;
    }
    for (const url of include.valueSet) mergeValueSet(out, url);
    return;
  }
  if (!system) {
    out.opaque = true;
    return;
  }
  if (include.version || include.filter?.length) {
    out.incompleteSystems.add(system);
    return;
  }
  if (include.concept?.length) {
    for (const c of include.concept) addCode(out, system, c.code);
    return;
  }
  const cs = findCodeSystem(system);
  if (!cs || cs.content !== 'complete' || !cs.concept) {
    out.incompleteSystems.add(system);
    return;
  }
  addConcepts(out, system, cs.concept);
}

function addConcepts(out: MutableExpansion, system: string, concepts: CodeSystemConcept[]): void {
  for (const c of concepts) {
    if (c.code) addCode(out, system, c.code);
    if (c.concept) addConcepts(out, system, c.concept);
  }
}

function mergeValueSet(out: MutableExpansion, url: string): void {
  const inner = expandValueSet(url);
  if (!inner) {
    out.opaque = true;
    return;
  }
  if (inner.opaque) out.opaque = true;
  for (const s of inner.incompleteSystems) out.incompleteSystems.add(s);
  for (const [system, codes] of inner.codes) for (const code of codes) addCode(out, system, code);
}

function applyExclude(out: MutableExpansion, exclude: ValueSetComposeInclude): void {
  const system = exclude.system;
  if (!system || exclude.valueSet?.length || exclude.filter?.length) return;
  const set = out.codes.get(system);
  if (!set) return;
  if (!exclude.concept?.length) {
    out.codes.delete(system);
    return;
  }
  for (const c of exclude.concept) set.delete(c.code);
}

/** Membership of a bare code (a `code` element carries no system). */
export function codeMembership(expansion: Expansion, code: string): Membership {
  for (const codes of expansion.codes.values()) if (codes.has(code)) return 'in';
  if (expansion.opaque || expansion.incompleteSystems.size > 0) return 'unknown';
  return 'out';
}

export function codingMembership(expansion: Expansion, system: string | undefined, code: string | undefined): Membership {
  if (expansion.opaque) return 'unknown';
  if (!system) return 'foreign';
  if (expansion.incompleteSystems.has(system)) return code !== undefined && expansion.codes.get(system)?.has(code) ? 'in' : 'unknown';
  const codes = expansion.codes.get(system);
  if (!codes) return 'foreign';
  return code !== undefined && codes.has(code) ? 'in' : 'out';
}

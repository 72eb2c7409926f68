// Cheaper evaluation of search parameter expressions for index extraction (docs/adr/0013). FHIRPath
// evaluation was most of a create's index cost: every expression of the type ran through the evaluator,
// with its node wrapping and type inference, even when the element it reads is absent. Two shortcuts,
// both exact (test/unit/search/simple-paths.test.ts compares them with FHIRPath on every official example):
// - mayApply: an expression whose every union branch starts at `Type.element` and only navigates,
//   filters (where), or casts (as, ofType) from there yields nothing when the resource has no such
//   element, so it is not evaluated at all;
// - simplePath: a plain `Type.a.b.c` path (optionally ending in `.where(resolve() is T)` or
//   `.where(code = 'x')`) is walked directly over the JSON, with the FHIR type of the
//   last element from the R4 model, as FHIRPath reports it. Anything the walk does not model (primitive
//   extensions, nulls, contained resources, extensions, choice types) falls back to FHIRPath.
import r4 from 'fhirpath/fhir-context/r4/index.js';
import { splitUnion } from './expression.js';

const path2Type = (r4 as unknown as { path2Type: Record<string, string> }).path2Type;

type Obj = Record<string, unknown>;
export interface PathValue {
  value: unknown;
  type: string;
  path: string;
}

const HEAD = /^\s*(\(*)\s*([A-Za-z]+)\.([A-Za-z]+)/;
// What may follow the first element in a branch that yields nothing when that element is absent.
const NAVIGATION = /^(\.[A-Za-z]+(?![A-Za-z(])|\.(as|ofType)\([A-Za-z.]+\)|\s+as\s+[A-Za-z.]+)/;

/** The end of the parenthesised group starting at s[open] ('('), or -1; quotes and nesting respected. */
function closing(s: string, open: number): number {
  let depth = 0;
  let quote = false;
  for (let i = open; i < s.length; i++) {
    const ch = s[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === "'") quote = false;
    } else if (ch === "'") quote = true;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i;
  }
  return -1;
}

/** The first element a branch reads when it is a navigation from it (see mayApply), else undefined. */
function rootElement(branch: string, resourceType: string): string | undefined {
  const head = HEAD.exec(branch);
  if (!head) return undefined;
  const [whole, parens, type, element] = head as unknown as [string, string, string, string];
  if (type !== resourceType && type !== 'Resource' && type !== 'DomainResource') return undefined;
  let rest = branch.slice(whole.length);
  let open = parens.length;
  while (rest.length > 0) {
    const nav = NAVIGATION.exec(rest);
    if (nav) {
      rest = rest.slice(nav[0].length);
      continue;
    }
    if (rest.startsWith('.where(')) {
      const end = closing(rest, '.where'.length);
      if (end < 0) return undefined;
      rest = rest.slice(end + 1);
      continue;
    }
    const close = /^\s*\)/.exec(rest);
    if (close && open > 0) {
      open--;
      rest = rest.slice(close[0].length);
      continue;
    }
    if (/^\s+$/.test(rest)) break;
    return undefined;
  }
  return open === 0 ? element : undefined;
}

/**
 * The top-level elements an expression can read, when it yields nothing without all of them: a resource
 * with none of them present (as `x`, `_x`, or a choice `xType`) is skipped. Undefined: always evaluate.
 */
export function rootElements(expression: string, resourceType: string): string[] | undefined {
  const roots: string[] = [];
  for (const branch of splitUnion(expression)) {
    const root = rootElement(branch, resourceType);
    if (root === undefined) return undefined;
    roots.push(root);
  }
  return roots;
}

/** Whether `resource` has any of the elements (rootElements) in any of their JSON spellings. */
export function hasAnyElement(resource: Obj, roots: readonly string[]): boolean {
  for (const key of Object.keys(resource)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    // A choice element `deceased` is stored as deceasedBoolean, deceasedDateTime, ...
    for (const root of roots) if (name.startsWith(root)) return true;
  }
  return false;
}

interface Step {
  key: string;
  /** The FHIR type of the values at this step, as FHIRPath reports it, and their node path. */
  type: string;
  path: string;
}

// Element types whose FHIRPath nodes are reported differently (Extension as Object) or that need the
// resource's own type (contained resources): left to FHIRPath.
const UNMODELLED = new Set(['Resource', 'Extension']);

function stepsOf(expression: string, resourceType: string): Step[] | undefined {
  const m = /^\s*([A-Za-z]+)((?:\.[A-Za-z]+)+)\s*$/.exec(expression);
  if (!m) return undefined;
  const [, head, rest] = m as unknown as [string, string, string];
  if (head !== resourceType && head !== 'Resource' && head !== 'DomainResource') return undefined;
  const steps: Step[] = [];
  let typePath = resourceType;
  for (const key of rest.slice(1).split('.')) {
    const full = `${typePath}.${key}`;
    const type = path2Type[full];
    if (!type || UNMODELLED.has(type)) return undefined;
    if (type === 'BackboneElement' || type === 'Element') {
      steps.push({ key, type: 'BackboneElement', path: full });
      typePath = full;
    } else if (type.startsWith('System.')) {
      steps.push({ key, type: type.slice('System.'.length), path: type });
      typePath = type;
    } else {
      steps.push({ key, type, path: type });
      typePath = type;
    }
  }
  return steps;
}

/** The values one step below `items`, or undefined when FHIRPath must interpret them. */
function below(items: readonly unknown[], key: string): unknown[] | undefined {
  const next: unknown[] = [];
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
    const o = item as Obj;
    if (`_${key}` in o) return undefined;
    const v = o[key];
    if (v === undefined) continue;
    if (v === null) return undefined;
    if (!Array.isArray(v)) {
      next.push(v);
      continue;
    }
    for (const x of v as unknown[]) {
      if (x === null || x === undefined || Array.isArray(x)) return undefined;
      next.push(x);
    }
  }
  return next;
}

/** Keeps a value (true), drops it (false), or cannot tell without FHIRPath (undefined). */
type Filter = (value: unknown) => boolean | undefined;

/** A string primitive of `o` as FHIRPath would compare it, or undefined when only FHIRPath can (null, extension, other JSON). */
function stringField(o: Obj, key: string): string | null | undefined {
  if (`_${key}` in o) return undefined;
  const v = o[key];
  if (v === undefined) return null;
  return typeof v === 'string' ? v : undefined;
}

/**
 * `where(resolve() is T)` as the extractor evaluates it (expression.ts rewriteResolve: the literal reference
 * names a T, or the reference's `type` is T) and `where(key = 'text')` on a string element. FHIRPath keeps
 * an item when the criterion is true; empty (the element absent) or false drop it.
 */
function filterOf(criterion: string): Filter | undefined {
  const resolved = /^resolve\(\)\s+is\s+([A-Za-z]+)$/.exec(criterion);
  if (resolved) {
    const type = resolved[1]!;
    // The regex and flags of FHIRPath's matches(): always unicode and dotAll.
    const literal = new RegExp(`^(.*/)?${type}/[^/]+(/_history/[^/]+)?$`, 'us');
    return (value) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      const reference = stringField(value as Obj, 'reference');
      const named = stringField(value as Obj, 'type');
      if (reference === undefined || named === undefined) return undefined;
      return (reference !== null && literal.test(reference)) || named === type;
    };
  }
  const equals = /^([A-Za-z]+)\s*=\s*'([A-Za-z0-9-]*)'$/.exec(criterion);
  if (equals) {
    const [, key, text] = equals as unknown as [string, string, string];
    return (value) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      const field = stringField(value as Obj, key);
      return field === undefined ? undefined : field === text;
    };
  }
  return undefined;
}

/** `path` and its trailing `.where(criterion)`, when it has one the walk models. */
function splitFilter(expression: string): { path: string; filter?: Filter } | undefined {
  const m = /^(.*)\.where\((.*)\)\s*$/.exec(expression);
  if (!m) return { path: expression };
  const filter = filterOf(m[2]!.trim());
  return filter ? { path: m[1]!, filter } : undefined;
}

/**
 * A direct evaluator for a plain path expression (optionally ending in a where() filterOf models), or
 * undefined when the expression is not one. The evaluator returns undefined when the data needs FHIRPath
 * after all.
 */
export function simplePath(expression: string, resourceType: string): ((resource: Obj) => PathValue[] | undefined) | undefined {
  const split = splitFilter(expression);
  if (!split) return undefined;
  const steps = stepsOf(split.path, resourceType);
  if (!steps || steps.length === 0) return undefined;
  const last = steps[steps.length - 1]!;
  const filter = split.filter;
  return (resource) => {
    let current: unknown[] | undefined = [resource];
    for (const step of steps) {
      current = below(current, step.key);
      if (current === undefined) return undefined;
    }
    const out: PathValue[] = [];
    for (const value of current) {
      if (filter) {
        const keep = filter(value);
        if (keep === undefined) return undefined;
        if (!keep) continue;
      }
      out.push({ value, type: last.type, path: last.path });
    }
    return out;
  };
}

// Cheaper evaluation of search parameter expressions for index extraction (docs/adr/0013). FHIRPath
// evaluation was most of a create's index cost: every expression of the type ran through the evaluator,
// with its node wrapping and type inference, even when the element it reads is absent. Two shortcuts,
// both exact (test/unit/search/simple-paths.test.ts compares them with FHIRPath on every official example):
// - mayApply: an expression whose every union branch starts at `Type.element` and only navigates,
//   filters (where), or casts (as, ofType) from there yields nothing when the resource has no such
//   element, so it is not evaluated at all;
// - simplePath: a plain `Type.a.b.c` path is walked directly over the JSON, with the FHIR type of the
//   last element from the R4 model, as FHIRPath reports it. Anything the walk does not model (primitive
//   extensions, nulls, contained resources, extensions, choice types) falls back to FHIRPath;
// - directEvaluator adds the two filtered shapes most parameters that still needed FHIRPath have
//   (`Type.a.where(b = 'literal')`: phone, email on six types; `Type.a.where(resolve() is X)`: the
//   patient parameters of CareTeam, CarePlan, ServiceRequest, ...) and the constant a
//   `Type.x.exists() and Type.x != false` parameter (Patient.deceased) yields without its element.
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
  return hasAnyName(elementNames(resource), roots);
}

/** The element names of a resource's keys (`_x` read as `x`): computed once per resource by extraction. */
export function elementNames(resource: Obj): string[] {
  return Object.keys(resource).map((key) => (key.startsWith('_') ? key.slice(1) : key));
}

/** hasAnyElement over names from elementNames. */
export function hasAnyName(names: readonly string[], roots: readonly string[]): boolean {
  for (const name of names) {
    // A choice element `deceased` is stored as deceasedBoolean, deceasedDateTime, ...
    for (const root of roots) if (name.startsWith(root)) return true;
  }
  return false;
}

interface Step {
  key: string;
  /** `_key`, the key of its primitive extension (built once, not per item walked). */
  extensionKey: string;
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
      steps.push({ key, extensionKey: `_${key}`, type: 'BackboneElement', path: full });
      typePath = full;
    } else if (type.startsWith('System.')) {
      steps.push({ key, extensionKey: `_${key}`, type: type.slice('System.'.length), path: type });
      typePath = type;
    } else {
      steps.push({ key, extensionKey: `_${key}`, type, path: type });
      typePath = type;
    }
  }
  return steps;
}

/** The values one step below `items`, or undefined when FHIRPath must interpret them. */
function below(items: readonly unknown[], key: string, extensionKey: string): unknown[] | undefined {
  const next: unknown[] = [];
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
    const o = item as Obj;
    if (extensionKey in o) return undefined;
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

/**
 * A direct evaluator for a plain path expression, or undefined when the expression is not one. The
 * evaluator returns undefined when the data needs FHIRPath after all.
 */
export function simplePath(expression: string, resourceType: string): ((resource: Obj) => PathValue[] | undefined) | undefined {
  const steps = stepsOf(expression, resourceType);
  if (!steps || steps.length === 0) return undefined;
  const last = steps[steps.length - 1]!;
  return (resource) => {
    let current: unknown[] | undefined = [resource];
    for (const step of steps) {
      current = below(current, step.key, step.extensionKey);
      if (current === undefined) return undefined;
    }
    return current.map((value) => ({ value, type: last.type, path: last.path }));
  };
}

/** `path.where(key = 'literal')`, with a literal free of quotes and escapes. */
const WHERE_EQUALS = /^\s*([A-Za-z]+(?:\.[A-Za-z]+)+)\.where\(\s*([A-Za-z]+)\s*=\s*'([^'\\]*)'\s*\)\s*$/;
/** FHIR primitive types whose JSON value is a string (the keys a where(b = 'literal') filter may read). */
const STRING_PRIMITIVES = new Set(['string', 'code', 'id', 'uri', 'url', 'canonical', 'oid', 'uuid', 'markdown']);
/** `path.where(resolve() is Type)` (expression.ts rewrites it into a test of the reference string). */
const WHERE_RESOLVE = /^\s*([A-Za-z]+(?:\.[A-Za-z]+)+)\.where\(\s*resolve\(\)\s+is\s+([A-Za-z]+)\s*\)\s*$/;
/** `Type.x.exists() and Type.x != false`: false when the resource has no x at all. */
const EXISTS_NOT_FALSE = /^\s*([A-Za-z]+)\.([A-Za-z]+)\.exists\(\)\s+and\s+\1\.\2\s*!=\s*false\s*$/;

/**
 * `items` filtered by keep, or undefined when an item is not a plain object or holds a primitive
 * extension of a key the filter reads (FHIRPath's to interpret).
 */
function filtered(items: PathValue[], keys: readonly string[], keep: (o: Obj) => boolean | undefined): PathValue[] | undefined {
  const out: PathValue[] = [];
  for (const item of items) {
    const o = item.value;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
    for (const k of keys) if (`_${k}` in o) return undefined;
    const ok = keep(o as Obj);
    if (ok === undefined) return undefined;
    if (ok) out.push(item);
  }
  return out;
}

/** A string element's value: undefined when absent, null when it is not a plain string (fall back). */
function stringAt(o: Obj, key: string): string | undefined | null {
  const v = o[key];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : null;
}

/**
 * A direct evaluator for `expression` on `resourceType` (simplePath, or one of the filtered shapes above),
 * or undefined when it has none. The evaluator returns undefined when the data needs FHIRPath after all.
 * test/unit/search/simple-paths.test.ts compares every one with FHIRPath on the official examples.
 */
export function directEvaluator(expression: string, resourceType: string): ((resource: Obj) => PathValue[] | undefined) | undefined {
  const plain = simplePath(expression, resourceType);
  if (plain) return plain;
  const equals = WHERE_EQUALS.exec(expression);
  if (equals) {
    const [, path, key, literal] = equals as unknown as [string, string, string, string];
    const walk = simplePath(path, resourceType);
    // Only a key that is a JSON-string primitive of the items' type: a choice (`value`, read by FHIRPath
    // as valueString, ...) or a complex element is left to FHIRPath.
    const last = stepsOf(path, resourceType)?.at(-1);
    if (!walk || !last || !STRING_PRIMITIVES.has(path2Type[`${last.path}.${key}`] ?? '')) return undefined;
    // FHIRPath `=` on strings is exact equality; an absent value is empty, which where() drops.
    return (resource) => {
      const items = walk(resource);
      return items && filtered(items, [key], (o) => {
        const v = stringAt(o, key);
        return v === null ? undefined : v === literal;
      });
    };
  }
  const resolve = WHERE_RESOLVE.exec(expression);
  if (resolve) {
    const [, path, target] = resolve as unknown as [string, string, string];
    const walk = simplePath(path, resourceType);
    if (!walk || stepsOf(path, resourceType)?.at(-1)?.type !== 'Reference') return undefined;
    // rewriteResolve's test: reference.matches(...) or type = 'X', each empty when its element is absent;
    // fhirpath.js evaluates matches() with the flags 'us'.
    const literal = new RegExp(`^(.*/)?${target}/[^/]+(/_history/[^/]+)?$`, 'us');
    return (resource) => {
      const items = walk(resource);
      return items && filtered(items, ['reference', 'type'], (o) => {
        const reference = stringAt(o, 'reference');
        const type = stringAt(o, 'type');
        if (reference === null || type === null) return undefined;
        return (reference !== undefined && literal.test(reference)) || type === target;
      });
    };
  }
  const exists = EXISTS_NOT_FALSE.exec(expression);
  if (exists) {
    const [, head, element] = exists as unknown as [string, string, string];
    if (head !== resourceType) return undefined;
    const roots = [element];
    return (resource) => (hasAnyElement(resource, roots) ? undefined : [{ value: false, type: 'Boolean', path: '' }]);
  }
  return undefined;
}

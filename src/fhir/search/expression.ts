// FHIRPath handling for SearchParameter expressions: restrict a shared expression to one resource
// type, rewrite `resolve() is X` (which needs a server round trip) into a check on the reference
// string, and compile each expression once with the R4 model.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';

/** Splits on `|` outside parentheses, brackets and string literals. */
export function splitUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === "'") quote = false;
    } else if (ch === "'") quote = true;
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === '|' && depth === 0) {
      parts.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(expression.slice(start).trim());
  return parts.filter((p) => p.length > 0);
}

/** The union branches of `expression` that start at `resourceType` (or at Resource/DomainResource). */
export function expressionForType(expression: string, resourceType: string): string | undefined {
  const branches = splitUnion(expression).filter((b) => {
    const head = /^\(*\s*([A-Za-z]+)[.\s)]/.exec(b + ' ')?.[1] ?? /^\(*\s*([A-Za-z]+)$/.exec(b)?.[1];
    return head === resourceType || head === 'Resource' || head === 'DomainResource';
  });
  return branches.length > 0 ? branches.join(' | ') : undefined;
}

/** `x.where(resolve() is Patient)` -> keep references whose literal reference names a Patient. */
export function rewriteResolve(expression: string): string {
  return expression.replace(
    /where\(\s*resolve\(\)\s+is\s+([A-Za-z]+)\s*\)/g,
    (_m, type: string) => `where(reference.matches('^(.*/)?${type}/[^/]+(/_history/[^/]+)?$') or type = '${type}')`,
  );
}

export interface FhirPathNode {
  data: unknown;
  path?: string;
}

type Compiled = (resource: unknown, env?: Record<string, unknown>) => unknown[];
const cache = new Map<string, Compiled>();
const model = r4;

/** Compiles (once) and returns an evaluator yielding the raw nodes and their FHIR type names. */
export function compileExpression(expression: string, base?: string): (input: unknown) => { value: unknown; type: string; path: string }[] {
  const key = `${base ?? ''}\u0000${expression}`;
  let fn = cache.get(key);
  if (!fn) {
    const path = base ? { base, expression: rewriteResolve(expression) } : rewriteResolve(expression);
    fn = fhirpath.compile(path, model, { resolveInternalTypes: false });
    cache.set(key, fn);
  }
  const compiled = fn;
  return (input) => {
    const nodes = compiled(input);
    const types = fhirpath.types(nodes);
    return nodes.map((n, i) => ({
      // Decimals arrive as FP_Decimal objects: resolve them to plain numbers.
      value: fhirpath.resolveInternalTypes(fhirpath.util.valData(n)) as unknown,
      type: (types[i] ?? '').replace(/^(FHIR|System)\./, ''),
      path: typeof n === 'object' && n !== null && 'path' in n ? String((n).path) : '',
    }));
  };
}

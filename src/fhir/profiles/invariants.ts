// FHIRPath invariants of Concord profiles, evaluated with the fhirpath package and its R4 model. Each
// expression is compiled once per (element path, expression) and reused.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

type Compiled = (node: unknown, env?: Record<string, unknown>) => unknown[];

const compiled = new Map<string, Compiled>();

function compile(elementPath: string, expression: string): Compiled {
  const cacheKey = `${elementPath}\u0000${expression}`;
  let fn = compiled.get(cacheKey);
  if (!fn) {
    // `base` tells fhirpath the node's type, so choice types and extension() resolve as on a resource.
    fn = fhirpath.compile({ base: elementPath, expression }, r4) as unknown as Compiled;
    compiled.set(cacheKey, fn);
  }
  return fn;
}

/**
 * Evaluates an invariant on one node. It holds only when the result is exactly `true` (as FHIR and
 * medplum's validator treat invariants); an evaluation error counts as a failure and is reported.
 */
export function invariantHolds(
  elementPath: string,
  expression: string,
  node: unknown,
  root: unknown,
): { holds: boolean; error?: string } {
  try {
    const result = compile(elementPath, expression)(node, { resource: root, rootResource: root });
    return { holds: result.length === 1 && result[0] === true };
  } catch (e) {
    return { holds: false, error: e instanceof Error ? e.message : String(e) };
  }
}

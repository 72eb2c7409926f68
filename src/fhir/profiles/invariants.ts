// FHIRPath invariants of Concord profiles, evaluated with the fhirpath package and its R4 model. Each
// expression is compiled once per (element path, expression) and reused.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

type Compiled = (node: unknown, env?: Record<string, unknown>) => unknown[];

interface Outcome {
  holds: boolean;
  error?: string;
}

const compiled = new Map<string, Compiled>();

/**
 * Expressions whose result can depend on more than the node: the environment (`%resource`, `%context`),
 * the clock, a resolver or a terminology service, or a trace callback. Every other expression is a function
 * of the node's JSON value and its element path alone.
 */
const CONTEXT_DEPENDENT = /%|\b(?:resolve|now|today|timeOfDay|trace|memberOf|conformsTo|subsumes|subsumedBy|defineVariable)\s*\(/;

/**
 * Outcomes of node-local invariants by (element path, expression, node JSON). One FHIRPath evaluation costs
 * 25-90 µs (the fhirpath package wraps every visited element); stringifying the small elements an
 * invariant sits on costs 1-2 µs, and the same codings recur across a load (the service codes of every
 * order and plan activity, the care-team roles). Cleared when full, so memory stays bounded. Nested by
 * element path and expression (both held by the compiled profile), so a lookup hashes only the node's JSON
 * instead of a fresh concatenation of all three.
 */
const outcomes = new Map<string, Map<string, Map<string, Outcome>>>();
let outcomeCount = 0;
export const MAX_MEMOISED_OUTCOMES = 20_000;
/**
 * Only small nodes are memoised (the recurring codings and roles are a few hundred characters): a large
 * element (a nested Consent provision, a big backbone element) rarely recurs, and keeping its JSON as a
 * key would let one hostile load hold MAX_MEMOISED_OUTCOMES large strings.
 */
export const MAX_MEMOISED_NODE_CHARS = 1024;
/**
 * Per expression: undefined when its outcome can depend on more than its node; else the names it mentions
 * (elements and functions). FHIRPath reaches a child element only by naming it (`scope`, `value` for
 * `valueString`, `extension(...)` for `extension`), so two nodes whose top-level keys starting with those
 * names hold equal JSON get the same outcome, however much else differs: a Consent's scope invariants
 * read its scope and policy rule, not its member-specific dates and references. `$this`/`$index`/`$total`
 * and the functions that visit unnamed elements (children, descendants) or render the whole node (trace,
 * toString) see the rest of the node: those expressions are keyed by the whole node.
 */
const readsOf = new Map<string, { local: boolean; names?: string[] }>();
const WHOLE_NODE = /\$|\b(?:children|descendants|trace|toString|toJson)\s*\(/;

function readsOfExpression(expression: string): { local: boolean; names?: string[] } {
  let reads = readsOf.get(expression);
  if (!reads) {
    if (CONTEXT_DEPENDENT.test(expression)) reads = { local: false };
    else {
      // String literals name nothing; a delimited identifier (`x`) names x.
      const code = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''").replace(/`([^`]*)`/g, ' $1 ');
      reads = WHOLE_NODE.test(code) ? { local: true } : { local: true, names: [...new Set(code.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [])] };
    }
    readsOf.set(expression, reads);
  }
  return reads;
}

/** The node's top-level keys an expression naming `names` can read (and its resourceType, which types it). */
function projection(node: unknown, names: readonly string[]): unknown {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return node;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(node)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    if (key === 'resourceType' || names.some((n) => name.startsWith(n))) out[key] = (node as Record<string, unknown>)[key];
  }
  return out;
}

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

function evaluate(elementPath: string, expression: string, node: unknown, root: unknown): Outcome {
  try {
    const result = compile(elementPath, expression)(node, { resource: root, rootResource: root });
    return { holds: result.length === 1 && result[0] === true };
  } catch (e) {
    return { holds: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Evaluates an invariant on one node. It holds only when the result is exactly `true` (as FHIR and
 * medplum's validator treat invariants); an evaluation error counts as a failure and is reported.
 */
export function invariantHolds(elementPath: string, expression: string, node: unknown, root: unknown): Outcome {
  const reads = readsOfExpression(expression);
  if (!reads.local) return evaluate(elementPath, expression, node, root);
  // An invariant on the resource itself is memoised only by the elements it names (the rest differs
  // every time); one on a smaller node by those or, for a whole-node expression, by all of it.
  if (node === root && !reads.names) return evaluate(elementPath, expression, node, root);
  const json = JSON.stringify(reads.names ? projection(node, reads.names) : node);
  if (json.length > MAX_MEMOISED_NODE_CHARS) return evaluate(elementPath, expression, node, root);
  let byExpression = outcomes.get(elementPath);
  let byJson = byExpression?.get(expression);
  let out = byJson?.get(json);
  if (!out) {
    out = evaluate(elementPath, expression, node, root);
    if (outcomeCount >= MAX_MEMOISED_OUTCOMES) {
      outcomes.clear();
      outcomeCount = 0;
      byExpression = undefined;
      byJson = undefined;
    }
    if (!byExpression) outcomes.set(elementPath, (byExpression = new Map<string, Map<string, Outcome>>()));
    if (!byJson) byExpression.set(expression, (byJson = new Map<string, Outcome>()));
    byJson.set(json, out);
    outcomeCount++;
  }
  return out;
}

/** How many outcomes are memoised now (tests: the bounds hold). */
export function memoisedOutcomes(): number {
  return outcomeCount;
}

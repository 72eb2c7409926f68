// The ValueSets a token :in / :not-in search can name, expanded to (system, code) pairs. Only the
// ValueSets the server itself holds are known: Concord's own (profiles folder, also served as
// ValueSet resources) and the R4 ones the validator expands. A ValueSet that cannot be enumerated
// exactly (filters, SNOMED CT, LOINC, ...) is refused rather than searched with a partial expansion:
// :in would silently miss matches and :not-in would silently return too many.
import { badRequest } from '../outcome.js';
import { findValueSet as findConcordValueSet, loadConformanceResources } from '../profiles/conformance.js';
import { expandValueSet as expandConcord } from '../profiles/value-sets.js';
import { expandValueSet as expandR4 } from '../validation/valueset-expansion.js';

/** Expansions larger than this are refused: they would make one search parameter an enormous IN list. */
export const MAX_EXPANSION = 5000;

export interface CodePair {
  system: string;
  code: string;
}

/** The canonical url a `ValueSet/id` reference names, among the ValueSets this server serves. */
function urlOfLocalValueSet(id: string): string | undefined {
  const r = loadConformanceResources().find((c) => c.resourceType === 'ValueSet' && c.id === id);
  return r && 'url' in r ? r.url : undefined;
}

/**
 * Expands the ValueSet named by `value`: a canonical url (optionally `|version`) or a `ValueSet/id`
 * reference. Throws a 400 for an unknown ValueSet, one that cannot be enumerated, or one too large.
 */
export function expandForSearch(value: string, param: string): CodePair[] {
  const ref = /^ValueSet\/([A-Za-z0-9\-.]{1,64})$/.exec(value);
  const url = ref ? urlOfLocalValueSet(ref[1]!) : value.split('|')[0]!;
  if (!url) throw badRequest(`Unknown ValueSet ${value} in ${param}`, [param]);

  let pairs: CodePair[] | undefined;
  if (findConcordValueSet(url)) {
    const codes = expandConcord(url);
    if (!codes) throw notEnumerable(value, param);
    pairs = [...codes].map((k) => {
      const bar = k.indexOf('|');
      return { system: k.slice(0, bar), code: k.slice(bar + 1) };
    });
  } else {
    const expansion = expandR4(url);
    if (!expansion) throw badRequest(`Unknown ValueSet ${value} in ${param}`, [param]);
    if (expansion.opaque || expansion.incompleteSystems.size > 0) throw notEnumerable(value, param);
    pairs = [];
    for (const [system, codes] of expansion.codes) for (const code of codes) pairs.push({ system, code });
  }
  if (pairs.length > MAX_EXPANSION) {
    throw badRequest(`ValueSet ${value} in ${param} has ${pairs.length} codes; at most ${MAX_EXPANSION} can be searched`, [param]);
  }
  return pairs;
}

function notEnumerable(value: string, param: string): Error {
  return badRequest(`ValueSet ${value} in ${param} cannot be expanded completely on this server (it uses filters or external code systems)`, [param]);
}

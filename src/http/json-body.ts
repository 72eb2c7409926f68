// Turns a JSON request body (raw bytes) into a value without changing anything the client sent:
// - bytes that are not UTF-8 are refused (a lenient decode would store U+FFFD in their place);
// - number texts are kept (lossless-json; see src/fhir/number-text.ts);
// - lone UTF-16 surrogates (`"\ud800"`) are refused: they are not Unicode text and cannot be stored as UTF-8;
// - duplicate keys are refused: which one wins is parser-defined. lossless-json only objects to a
//   duplicate whose value differs, so every member separator ':' seen by the linear pre-scan is matched
//   against the keys the parse produced.
import { parseLossless, isLosslessNumber } from '../fhir/number-text.js';
import { FhirError, issue } from '../fhir/outcome.js';
import { MAX_ARRAY_ITEMS } from '../fhir/validation/value-limits.js';
import { scanJson } from './json-depth.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

const bad = (diagnostics: string): FhirError => new FhirError(400, issue('structure', diagnostics));

export function parseJsonBody(raw: Buffer, maxDepth: number): unknown {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw bad('The request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new FhirError(400, issue('invalid', 'The request body is empty'));
  const scan = scanJson(text, maxDepth, MAX_ARRAY_ITEMS);
  if (scan.tooDeep) throw new FhirError(400, issue('too-costly', `JSON nesting deeper than ${maxDepth} levels is refused`));
  // The same bound validation applies (value-limits.ts), applied before parsing; 422 like it.
  if (scan.tooLongArray) throw new FhirError(422, issue('too-costly', `A JSON array may hold at most ${MAX_ARRAY_ITEMS} items`));
  let value: unknown;
  try {
    value = parseLossless(text);
  } catch (err) {
    throw bad(`The request body is not valid JSON: ${err instanceof Error ? err.message : 'invalid JSON'}`);
  }
  const found = checkParsed(value);
  if (found.badString !== undefined) throw bad(`The request body has a lone UTF-16 surrogate (not Unicode text) at ${found.badString}`);
  if (found.members !== scan.members) throw bad('The request body has a duplicate JSON object key');
  return value;
}

/**
 * One walk: counts object members and finds the first string (or key) that is not well-formed Unicode.
 * Recursive (the depth is bounded by the pre-scan); the path text is only built for a bad string.
 */
function checkParsed(root: unknown): { members: number; badString?: string } {
  let members = 0;
  const trail: (string | number)[] = [];
  const visit = (v: unknown): boolean => {
    if (typeof v === 'string') return wellFormed(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        trail.push(i);
        if (!visit(v[i])) return false;
        trail.pop();
      }
    } else if (typeof v === 'object' && v !== null && !isLosslessNumber(v)) {
      for (const key of Object.keys(v)) {
        members++;
        trail.push(key);
        if (!wellFormed(key) || !visit((v as Record<string, unknown>)[key])) return false;
        trail.pop();
      }
    }
    return true;
  };
  if (visit(root)) return { members };
  return { members, badString: '$' + trail.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('') };
}

// String.prototype.isWellFormed (ES2024, Node 20+) is native and linear; the lib types here stop at ES2023.
const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

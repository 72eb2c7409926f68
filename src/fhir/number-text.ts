// Exact number text (R4 JSON: decimals keep their precision, so `1.00` is not `1`). A number whose text is
// what JavaScript would print anyway is a plain number; any other (1.00, 66.899999999999991, 1e2, 1e400) is
// a LosslessNumber (lossless-json) holding the text. At the service boundary plainNumbers() turns those into
// plain numbers for the validator, FHIRPath and rules, and remembers each text by its path; the stored
// JSON is written by stringifyWithTexts() (lossless-json's stringify), which puts the texts back.
//
// Parsing: lossless-json's own parser builds strings one character at a time (2.5 s and far more memory
// for one 4 MB string, measured), which is the event-loop block this module exists to avoid. So the
// native JSON.parse does the parsing, after a linear scan has swapped each non-canonical number token
// for a string placeholder (a random per-parse nonce the client cannot know); the placeholders are then
// swapped for LosslessNumbers. A body whose numbers are all canonical is parsed by JSON.parse unchanged.
import { randomBytes } from 'node:crypto';
import { isLosslessNumber, LosslessNumber, stringify } from 'lossless-json';
import { endOfString } from './json-strings.js';
import { FhirError, issue } from './outcome.js';

/** A number whose text differs from JavaScript's own spelling of its value; path is relative to the resource. */
export interface NumberText {
  path: (string | number)[];
  text: string;
}

const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/** Start/end of every number token (outside strings) whose text JavaScript would respell. */
function nonCanonicalNumbers(text: string): [number, number][] {
  const found: [number, number][] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = endOfString(text, i);
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      const token = text.slice(i, end);
      // A malformed token is left in place for JSON.parse to refuse.
      if (String(Number(token)) !== token && JSON_NUMBER.test(token)) found.push([i, end]);
      i = end - 1;
    }
  }
  return found;
}

const isNumberChar = (c: number): boolean => (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x65 || c === 0x45;

/** Parses JSON text keeping non-canonical number texts as LosslessNumbers; throws SyntaxError on bad JSON. */
export function parseLossless(text: string): unknown {
  const tokens = nonCanonicalNumbers(text);
  if (tokens.length === 0) return JSON.parse(text) as unknown;
  // The placeholder text is its own JSON string content (hex digits and a colon need no escaping).
  const prefix = `#${randomBytes(12).toString('hex')}:`;
  const parts: string[] = [];
  const texts: string[] = [];
  let last = 0;
  for (const [start, end] of tokens) {
    parts.push(text.slice(last, start), `"${prefix}${texts.length}"`);
    texts.push(text.slice(start, end));
    last = end;
  }
  parts.push(text.slice(last));
  return restore(JSON.parse(parts.join('')) as unknown, prefix, texts);
}

/** Swaps the placeholders back for LosslessNumbers, in place (the tree was just parsed). */
function restore(root: unknown, prefix: string, texts: string[]): unknown {
  const swap = (v: unknown): unknown =>
    typeof v === 'string' && v.startsWith(prefix) ? new LosslessNumber(texts[Number(v.slice(prefix.length))]!) : v;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        node[i] = swap(node[i]);
        if (typeof node[i] === 'object') stack.push(node[i]);
      }
    } else if (typeof node === 'object' && node !== null && !isLosslessNumber(node)) {
      const obj = node as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        obj[key] = swap(obj[key]);
        if (typeof obj[key] === 'object') stack.push(obj[key]);
      }
    }
  }
  return swap(root);
}

export { isLosslessNumber };

const NONZERO_DIGIT = /[1-9]/;

/**
 * A copy of `value` with plain numbers only, and the texts it had. Numbers that overflow (1e400) or
 * underflow to zero (1e-400) cannot be kept as the client meant them and are refused (400).
 */
export function plainNumbers<T>(value: T, rootPath: string): { plain: T; texts: NumberText[] } {
  const texts: NumberText[] = [];
  const trail: (string | number)[] = [];
  const walk = (v: unknown): unknown => {
    if (isLosslessNumber(v)) {
      const text = v.toString();
      const n = Number(text);
      const mantissa = text.split(/[eE]/)[0] ?? '';
      if (!Number.isFinite(n) || (n === 0 && NONZERO_DIGIT.test(mantissa))) {
        const where = rootPath + trail.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
        throw new FhirError(400, issue('value', `The number ${text.length > 40 ? text.slice(0, 40) + '…' : text} cannot be represented: it would become ${n}`, { expression: [where] }));
      }
      texts.push({ path: [...trail], text });
      return n;
    }
    // Copy-on-write: a subtree without LosslessNumbers is returned as it is (no allocation).
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        trail.push(i);
        const out = walk(v[i]);
        trail.pop();
        if (out !== v[i]) (copy ??= v.slice())[i] = out;
      }
      return copy ?? v;
    }
    if (typeof v === 'object' && v !== null) {
      let copy: Record<string, unknown> | undefined;
      for (const key of Object.keys(v)) {
        const item = (v as Record<string, unknown>)[key];
        trail.push(key);
        const out = walk(item);
        trail.pop();
        if (out !== item) (copy ??= { ...(v as Record<string, unknown>) })[key] = out;
      }
      return copy ?? v;
    }
    return v;
  };
  return { plain: walk(value) as T, texts };
}

/**
 * JSON text of `stored` with each remembered number text put back where `stored` still holds that number
 * (an element the server changed keeps the server's value). Without texts this is JSON.stringify.
 */
export function stringifyWithTexts(stored: unknown, texts: readonly NumberText[]): string {
  if (texts.length === 0) return JSON.stringify(stored);
  // One copy, then in-place replacement: linear however many texts there are.
  const root = structuredClone<unknown>(stored);
  for (const { path, text } of texts) {
    let holder: unknown = root;
    for (let i = 0; i < path.length - 1 && holder !== undefined; i++) holder = childOf(holder, path[i]!);
    const key = path[path.length - 1]!;
    if (childOf(holder, key) === Number(text) && typeof childOf(holder, key) === 'number') {
      (holder as Record<string | number, unknown>)[key] = new LosslessNumber(text);
    }
  }
  return stringify(root) as string;
}

function childOf(node: unknown, key: string | number): unknown {
  if (Array.isArray(node)) return typeof key === 'number' ? (node[key] as unknown) : undefined;
  if (typeof node === 'object' && node !== null && typeof key === 'string' && Object.hasOwn(node, key)) return (node as Record<string, unknown>)[key];
  return undefined;
}

/** Parses stored JSON text keeping its number texts (JSON Patch applies to this so untouched decimals stay). */
export const parseStored = parseLossless;

/** JSON text of a value that may hold LosslessNumbers (from parseStored / parseLossless). */
export function stringifyLossless(value: unknown): string {
  return stringify(value) as string;
}

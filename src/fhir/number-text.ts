// Exact number text (R4 JSON: decimals keep their precision, so `1.00` is not `1`). Request bodies are parsed
// with lossless-json: a number whose text is what JavaScript would print anyway stays a plain number, any
// other (1.00, 66.899999999999991, 1e2, 1e400) stays a LosslessNumber. At the service boundary
// plainNumbers() turns those into plain numbers for the validator, FHIRPath and rules, and remembers each
// text by its path; the stored JSON is written by stringifyWithTexts(), which puts the texts back.
import { isLosslessNumber, LosslessNumber, parse, stringify } from 'lossless-json';
import { FhirError, issue } from './outcome.js';

/** A number whose text differs from JavaScript's own spelling of its value; path is relative to the resource. */
export interface NumberText {
  path: (string | number)[];
  text: string;
}

function parseNumber(text: string): number | LosslessNumber {
  const n = Number(text);
  return String(n) === text ? n : new LosslessNumber(text);
}

/** Parses JSON text keeping non-canonical number texts; throws SyntaxError (duplicate keys with different values too). */
export function parseLossless(text: string): unknown {
  return parse(text, null, parseNumber);
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
    if (Array.isArray(v)) {
      if (!v.some(needsWalk)) return v;
      return v.map((item, i) => {
        trail.push(i);
        const out = walk(item);
        trail.pop();
        return out;
      });
    }
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        trail.push(key);
        out[key] = walk((v as Record<string, unknown>)[key]);
        trail.pop();
      }
      return out;
    }
    return v;
  };
  return { plain: walk(value) as T, texts };
}

const needsWalk = (v: unknown): boolean => typeof v === 'object' && v !== null;

/** True when value holds a LosslessNumber anywhere (a plain value is passed on untouched). */
export function hasLosslessNumbers(value: unknown): boolean {
  if (isLosslessNumber(value)) return true;
  if (Array.isArray(value)) return value.some(hasLosslessNumbers);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasLosslessNumbers);
  return false;
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

// Reference rewriting for transaction Bundles: every Reference.reference anywhere in a resource
// (nested backbone elements, extensions, contained resources) passes through one function.
import { isLosslessNumber } from './number-text.js';

type Json = unknown;

/** Returns a copy of value where each `reference` string r is replaced by replace(r) when defined. */
export function replaceReferences(value: Json, replace: (reference: string) => string | undefined): Json {
  if (Array.isArray(value)) return value.map((v) => replaceReferences(v, replace));
  // A number whose text is kept (number-text.ts) is a value, not an object to copy.
  if (value === null || typeof value !== 'object' || isLosslessNumber(value)) return value;
  const out: Record<string, Json> = {};
  for (const [key, v] of Object.entries(value as Record<string, Json>)) {
    if (key === 'reference' && typeof v === 'string') out[key] = replace(v) ?? v;
    else out[key] = replaceReferences(v, replace);
  }
  return out;
}

const LOCAL_PATH = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * Absolute references that name this server (under one of bases) become relative `Type/id`, so every
 * local resource has one spelling for the coordination rules, member locks and the search index.
 * References to other servers are left as they are.
 */
export function relativizeReferences<T>(resource: T, bases: readonly string[]): T {
  if (bases.length === 0) return resource;
  const prefixes = bases.map((b) => (b.endsWith('/') ? b : `${b}/`));
  return replaceReferences(resource, (ref) => {
    const prefix = prefixes.find((p) => ref.startsWith(p));
    const rest = prefix ? ref.slice(prefix.length) : undefined;
    return rest !== undefined && LOCAL_PATH.test(rest) ? rest : undefined;
  }) as T;
}

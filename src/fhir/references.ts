// Reference rewriting for transaction Bundles: every Reference.reference anywhere in a resource
// (nested backbone elements, extensions, contained resources) passes through one function.
type Json = unknown;

/** Returns a copy of value where each `reference` string r is replaced by replace(r) when defined. */
export function replaceReferences(value: Json, replace: (reference: string) => string | undefined): Json {
  if (Array.isArray(value)) return value.map((v) => replaceReferences(v, replace));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, Json> = {};
  for (const [key, v] of Object.entries(value as Record<string, Json>)) {
    if (key === 'reference' && typeof v === 'string') out[key] = replace(v) ?? v;
    else out[key] = replaceReferences(v, replace);
  }
  return out;
}

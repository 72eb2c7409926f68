// _summary and _elements (R4 search.html#summary, #elements): subsetting applied to served resources.
// Summary elements come from the R4 definitions (ElementDefinition.isSummary), never a hand list.
// Subsetted resources carry the SUBSETTED tag, as the spec requires.
import { parseStored, stringifyLossless } from './number-text.js';
import { getTopLevelElements } from './definitions.js';
import type { SummaryMode } from './search/types.js';

type JsonObject = Record<string, unknown>;

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };
const ALWAYS = ['resourceType', 'id', 'meta'];
const summaryCache = new Map<string, { names: Set<string>; choices: string[] }>();

function summaryElements(type: string): { names: Set<string>; choices: string[] } {
  let cached = summaryCache.get(type);
  if (!cached) {
    const names = new Set<string>();
    const choices: string[] = [];
    for (const el of getTopLevelElements(type) ?? []) {
      if (!(el.isSummary || el.min > 0)) continue;
      const name = el.name;
      if (name.endsWith('[x]')) choices.push(name.slice(0, -3));
      else names.add(name);
    }
    cached = { names, choices };
    summaryCache.set(type, cached);
  }
  return cached;
}

function isSummaryKey(type: string, key: string): boolean {
  const { names, choices } = summaryElements(type);
  const bare = key.startsWith('_') ? key.slice(1) : key;
  return names.has(bare) || choices.some((c) => bare.startsWith(c) && /^[A-Z]/.test(bare.slice(c.length)));
}

function tagged(resource: JsonObject, keep: (key: string) => boolean): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(resource)) if (ALWAYS.includes(k) || keep(k)) out[k] = v;
  const meta = (out.meta as JsonObject | undefined) ?? {};
  const tags = Array.isArray(meta.tag) ? (meta.tag as unknown[]) : [];
  out.meta = { ...meta, tag: [...tags, SUBSETTED] };
  return out;
}

/** Returns the JSON text to serve: unchanged when no subsetting applies. */
export function subsetResource(json: string, summary: SummaryMode | undefined, elements: string[] | undefined): string {
  if ((!summary || summary === 'false' || summary === 'count') && !elements?.length) return json;
  // Parsed and written keeping number texts: a summary shows decimals exactly as stored.
  const resource = parseStored(json) as JsonObject;
  const type = String(resource.resourceType);
  let out: JsonObject;
  if (elements?.length) {
    const wanted = new Set(elements.map((e) => e.replace(/^[A-Z][A-Za-z]+\./, '')));
    out = tagged(resource, (k) => wanted.has(k.startsWith('_') ? k.slice(1) : k));
  } else if (summary === 'true') {
    out = tagged(resource, (k) => isSummaryKey(type, k));
  } else if (summary === 'text') {
    out = tagged(resource, (k) => k === 'text' || isMandatory(type, k));
  } else {
    // data: everything but the narrative
    out = tagged(resource, (k) => k !== 'text');
  }
  return stringifyLossless(out);
}

function isMandatory(type: string, key: string): boolean {
  return (getTopLevelElements(type) ?? []).some((el) => el.name === key && el.min > 0);
}

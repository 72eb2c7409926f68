// Parses a FHIR search query string into the search AST (types.ts). Malformed values raise a
// FhirError 400; unknown parameters are ignored with a warning (Prefer: handling=lenient) or rejected
// (handling=strict).
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { badRequest, issue } from '../outcome.js';
import { decodeCursor } from './cursor.js';
import { getSearchParam, getSearchParameterByUrl, isResourceType, type SearchParamDef } from './parameters.js';
import type {
  CompositeValue,
  Filter,
  IncludeSpec,
  Modifier,
  Prefix,
  SearchParamType,
  SearchRequest,
  SearchValue,
  SortKey,
  SummaryMode,
  TokenValue,
} from './types.js';
import { dateRange, normalizeString, parseDecimal, parseReference } from './values.js';
import { getResourceTypes } from '../definitions.js';
import { expandForSearch, MAX_EXPANSION, type CodePair } from './value-sets.js';

export interface ParseOptions {
  strict: boolean;
  maxCount: number;
  /** Page size when _count is absent (20). */
  defaultCount?: number;
  /**
   * This server's base urls (configured BASE_URL, the request's own base): an absolute reference value
   * under one of them is searched as the relative `Type/id` the write path stored.
   */
  localBases?: readonly string[];
}

export interface ParsedSearch {
  request: SearchRequest;
  warnings: OperationOutcomeIssue[];
}

const PREFIXES = new Set<Prefix>(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);
const MAX_CHAIN_DEPTH = 4;
const MAX_VALUES = 100; // OR values in one parameter: bounds the SQL a single request can produce
// Parameters handled elsewhere (HTTP layer) and accepted silently.
const PASSTHROUGH = new Set(['_format', '_pretty']);

/** Splits on an unescaped separator; escapes are kept for the next level. */
export function splitEscaped(value: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && i + 1 < value.length) {
      cur += ch + value[i + 1]!;
      i++;
    } else if (ch === sep) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** Removes the search escapes `\,` `\$` `\|` `\\`. */
export function unescapeValue(value: string): string {
  return value.replace(/\\([\\,$|])/g, '$1');
}

class UnknownParam extends Error {}

interface Ctx {
  strict: boolean;
  warnings: OperationOutcomeIssue[];
  /** Local base urls, each ending in '/'. */
  localPrefixes: string[];
}

function unknown(ctx: Ctx, name: string, why = 'Unknown search parameter'): void {
  if (ctx.strict) throw badRequest(`${why}: ${name}`, [name]);
  ctx.warnings.push(issue('not-supported', `${why} ignored: ${name}`, { severity: 'warning', expression: [name] }));
}

function prefixOf(raw: string): { prefix: Prefix; rest: string } {
  const p = raw.slice(0, 2) as Prefix;
  if (PREFIXES.has(p) && raw.length > 2 && /[0-9+\-.]/.test(raw[2]!)) return { prefix: p, rest: raw.slice(2) };
  return { prefix: 'eq', rest: raw };
}

function parseToken(raw: string, name: string): TokenValue {
  const parts = splitEscaped(raw, '|');
  if (parts.length > 2) throw badRequest(`Invalid token value for ${name}: ${raw}`, [name]);
  if (parts.length === 1) return { kind: 'token', code: unescapeValue(parts[0]!) };
  const system = unescapeValue(parts[0]!);
  const code = unescapeValue(parts[1]!);
  const out: TokenValue = { kind: 'token', system: system === '' ? null : system };
  if (code !== '') out.code = code;
  if (out.system === null && out.code === undefined) throw badRequest(`Invalid token value for ${name}: ${raw}`, [name]);
  return out;
}

/** `http://this-server/fhir/Patient/x` -> `Patient/x` (a reference under another base is left as it is). */
function relativize(value: string, ctx: Ctx): string {
  const prefix = ctx.localPrefixes.find((p) => value.startsWith(p));
  const rest = prefix ? value.slice(prefix.length) : undefined;
  return rest !== undefined && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/.test(rest) ? rest : value;
}

function parseValue(type: SearchParamType, raw: string, name: string, modifier: Modifier | undefined, ctx: Ctx, def?: SearchParamDef): SearchValue {
  const bad = (): never => {
    throw badRequest(`Invalid ${type} value for ${name}: ${raw}`, [name]);
  };
  switch (type) {
    case 'number': {
      const { prefix, rest } = prefixOf(raw);
      const d = parseDecimal(rest) ?? bad();
      return { kind: 'number', prefix, ...d };
    }
    case 'date': {
      const { prefix, rest } = prefixOf(raw);
      const r = dateRange(rest) ?? bad();
      return { kind: 'date', prefix, ...r };
    }
    case 'quantity': {
      const { prefix, rest } = prefixOf(raw);
      const parts = splitEscaped(rest, '|');
      if (parts.length !== 1 && parts.length !== 3) bad();
      const d = parseDecimal(parts[0]!) ?? bad();
      const out: SearchValue = { kind: 'quantity', prefix, ...d };
      const system = parts[1] ? unescapeValue(parts[1]) : '';
      const unit = parts[2] ? unescapeValue(parts[2]) : '';
      if (system) out.system = system;
      if (unit) out.unit = unit;
      return out;
    }
    case 'string': {
      const value = unescapeValue(raw);
      return { kind: 'string', value, normalized: normalizeString(value) };
    }
    case 'uri':
      return { kind: 'uri', value: unescapeValue(raw) };
    case 'token':
      if (modifier === 'text') {
        const value = unescapeValue(raw);
        return { kind: 'string', value, normalized: normalizeString(value) };
      }
      return parseToken(raw, name);
    case 'reference': {
      if (modifier === 'identifier') return parseToken(raw, name);
      const value = relativize(unescapeValue(raw), ctx);
      if (/^[a-z][a-z0-9+.-]*:/i.test(value)) {
        // Absolute url or urn; canonical references may carry |version, which is not indexed.
        return { kind: 'reference', url: value.split('|')[0]! };
      }
      if (value.includes('/')) {
        const ref = parseReference(value);
        if (!ref.type || !ref.id || ref.url !== undefined || !isResourceType(ref.type)) bad();
        if (def && def.targets.length > 0 && !def.targets.includes(ref.type!)) {
          throw badRequest(`${ref.type} is not a target type of ${name}`, [name]);
        }
        return { kind: 'reference', type: ref.type!, id: ref.id! };
      }
      if (!/^[A-Za-z0-9\-.]{1,64}$/.test(value)) bad();
      return { kind: 'reference', id: value };
    }
    default:
      return bad();
  }
}

function parseComposite(def: SearchParamDef, raw: string, name: string, ctx: Ctx): CompositeValue {
  const comps = def.components ?? [];
  const parts = splitEscaped(raw, '$');
  if (comps.length !== 2) throw badRequest(`Composite parameter ${name} with ${comps.length} components is not supported`, [name]);
  if (parts.length !== 2) throw badRequest(`Invalid composite value for ${name}: ${raw} (expected a$b)`, [name]);
  const types = comps.map((c) => getSearchParameterByUrl(c.definition)?.type);
  const first = parseValue(types[0] ?? 'token', parts[0]!, name, undefined, ctx);
  if (first.kind !== 'token' && first.kind !== 'reference' && first.kind !== 'string') {
    throw badRequest(`Composite parameter ${name} is not supported`, [name]);
  }
  const second = parseValue(types[1] ?? 'token', parts[1]!, name, undefined, ctx);
  return { kind: 'composite', parts: [first, second] };
}

const MODIFIERS: Record<string, SearchParamType[]> = {
  exact: ['string'],
  contains: ['string', 'uri'],
  not: ['token'],
  text: ['token'],
  in: ['token'],
  'not-in': ['token'],
  identifier: ['reference'],
  above: ['uri'],
  below: ['uri'],
};

/** Finds the definition of `code` shared by all `types` (same parameter type), or undefined. */
function defFor(types: string[] | undefined, code: string): SearchParamDef | undefined {
  const list = types ?? ['Resource'];
  let found: SearchParamDef | undefined;
  for (const t of list) {
    // 'Resource' (system search without _type): only the parameters every type has.
    const def = t === 'Resource' ? getSearchParam('Patient', code) : getSearchParam(t, code);
    if (!def || (t === 'Resource' && !['_id', '_lastUpdated', '_tag', '_profile', '_security', '_source'].includes(code))) return undefined;
    if (found && found.type !== def.type) return undefined;
    found ??= def;
  }
  return found;
}

/** Parses one (possibly chained) parameter `key=value` on `types`. Throws UnknownParam. */
function parseParam(types: string[] | undefined, key: string, value: string, ctx: Ctx, depth: number): Filter {
  if (key.startsWith('_has:')) return parseHas(types, key, value, ctx, depth);
  const dot = key.indexOf('.');
  const head = dot >= 0 ? key.slice(0, dot) : key;
  const rest = dot >= 0 ? key.slice(dot + 1) : undefined;
  const colon = head.indexOf(':');
  const code = colon >= 0 ? head.slice(0, colon) : head;
  const modText = colon >= 0 ? head.slice(colon + 1) : undefined;

  if (code === '_id' && rest === undefined) {
    if (modText !== undefined && modText !== 'not') throw badRequest(`Unsupported modifier :${modText} on _id`, [key]);
    const ids = splitEscaped(value, ',').map(unescapeValue).filter((v) => v !== '');
    for (const id of ids) if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw badRequest(`Invalid _id: ${id}`, [key]);
    return { kind: 'id', ids, not: modText === 'not' };
  }

  const def = defFor(types, code);
  if (!def) throw new UnknownParam(code);
  const rt = types ? { resourceTypes: types } : {};

  if (rest !== undefined) {
    // Chained: code must be a reference; the type modifier (or the targets having the next parameter) picks the targets.
    if (def.type !== 'reference') throw badRequest(`Chained parameter ${code} is not a reference`, [key]);
    if (depth >= MAX_CHAIN_DEPTH) throw badRequest(`Chain too deep: ${key}`, [key]);
    if (modText !== undefined && !isResourceType(modText)) throw badRequest(`Invalid type modifier :${modText}`, [key]);
    const candidates = modText ? [modText] : def.targets.length > 0 ? def.targets : [...getResourceTypes()];
    const nextCode = rest.split(/[.:]/)[0]!;
    const targets = rest.startsWith('_has:')
      ? candidates
      : candidates.filter((t) => nextCode === '_id' || getSearchParam(t, nextCode) !== undefined);
    if (targets.length === 0) throw new UnknownParam(`${code}.${nextCode}`);
    // Targets whose parameter has a different type than the first are dropped (ambiguous chain).
    const firstType = getSearchParam(targets[0]!, nextCode)?.type;
    const same = targets.filter((t) => nextCode === '_id' || getSearchParam(t, nextCode)?.type === firstType);
    return { kind: 'chain', ...rt, code, targetTypes: same, filter: parseParam(same, rest, value, ctx, depth + 1) };
  }

  let modifier: Modifier | undefined;
  let targetType: string | undefined;
  if (modText === 'missing') {
    if (value !== 'true' && value !== 'false') throw badRequest(`:missing takes true or false: ${key}=${value}`, [key]);
    return { kind: 'missing', ...rt, code, paramType: def.type, missing: value === 'true' };
  }
  if (modText !== undefined) {
    if (def.type === 'reference' && isResourceType(modText)) {
      if (def.targets.length > 0 && !def.targets.includes(modText)) throw badRequest(`${modText} is not a target type of ${code}`, [key]);
      modifier = 'type';
      targetType = modText;
    } else if (MODIFIERS[modText]?.includes(def.type)) {
      modifier = modText as Modifier;
    } else {
      throw badRequest(`Unsupported modifier :${modText} on ${def.type} parameter ${code}`, [key]);
    }
  }
  if (def.type === 'special') throw new UnknownParam(code);

  const raws = splitEscaped(value, ',').filter((v) => v !== '');
  if (raws.length > MAX_VALUES) throw badRequest(`Too many values for ${key}`, [key]);
  if (modifier === 'in' || modifier === 'not-in') {
    // The values name ValueSets (ORed): the filter carries their expansion, not the names.
    const seen = new Map<string, CodePair>();
    for (const raw of raws) for (const pair of expandForSearch(relativize(unescapeValue(raw), ctx), key)) seen.set(`${pair.system}|${pair.code}`, pair);
    if (seen.size > MAX_EXPANSION) throw badRequest(`The ValueSets in ${key} have more than ${MAX_EXPANSION} codes together`, [key]);
    return { kind: 'param', ...rt, code, paramType: def.type, modifier, values: [], codes: [...seen.values()] };
  }
  const values = raws.map((raw) => {
    if (def.type === 'composite') return parseComposite(def, raw, code, ctx);
    const v = parseValue(def.type, raw, code, modifier, ctx, def);
    if (targetType && v.kind === 'reference') {
      if (v.type && v.type !== targetType) throw badRequest(`Reference ${raw} does not match modifier :${targetType}`, [key]);
      v.type = targetType;
    }
    return v;
  });
  const filter: Filter = { kind: 'param', ...rt, code, paramType: def.type, values };
  if (modifier) filter.modifier = modifier;
  if (targetType) filter.targetType = targetType;
  return filter;
}

/** `_has:Observation:patient:code=x` (nested _has allowed). */
function parseHas(types: string[] | undefined, key: string, value: string, ctx: Ctx, depth: number): Filter {
  const parts = key.split(':');
  if (parts.length < 4 || !parts[1] || !parts[2] || !parts[3]) throw badRequest(`Invalid _has parameter: ${key}`, [key]);
  const sourceType = parts[1];
  const code = parts[2];
  if (!isResourceType(sourceType)) throw badRequest(`Unknown resource type in ${key}`, [key]);
  if (depth >= MAX_CHAIN_DEPTH) throw badRequest(`Chain too deep: ${key}`, [key]);
  const def = getSearchParam(sourceType, code);
  if (!def || def.type !== 'reference') throw badRequest(`${sourceType}.${code} is not a reference parameter`, [key]);
  if (types && def.targets.length > 0 && !types.some((t) => def.targets.includes(t))) {
    throw badRequest(`${sourceType}.${code} does not refer to ${types.join(',')}`, [key]);
  }
  const restKey = parts.slice(3).join(':');
  return { kind: 'has', sourceType, code, filter: parseParam([sourceType], restKey, value, ctx, depth + 1) };
}

function parseSort(types: string[] | undefined, value: string, ctx: Ctx): SortKey[] {
  const keys: SortKey[] = [];
  for (const item of value.split(',')) {
    const descending = item.startsWith('-');
    const code = descending ? item.slice(1) : item;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(code)) throw badRequest(`Invalid _sort: ${value}`, ['_sort']);
    if (code === '_id' || code === '_lastUpdated') {
      keys.push({ code, paramType: code === '_id' ? 'token' : 'date', descending });
      continue;
    }
    const def = defFor(types, code);
    if (!def) {
      unknown(ctx, code, 'Unknown _sort parameter');
      continue;
    }
    if (def.type === 'composite' || def.type === 'special') throw badRequest(`Cannot sort by ${code}`, ['_sort']);
    keys.push({ code, paramType: def.type, descending });
  }
  return keys;
}

function parseInclude(value: string, iterate: boolean, name: string, ctx: Ctx): IncludeSpec | undefined {
  const parts = value.split(':');
  // `*` alone: every reference of every resource on the page (or, reversed, every resource referring
  // to one). R4 spells the wildcard `Type:*`; the bare form is accepted as its any-type variant.
  if (parts.length === 1 && parts[0] === '*') {
    if (name === '_include') return { sourceType: '*', code: '*', iterate };
    // Reversed, it would scan every reference in the store for the page's ids: name the source type.
    unknown(ctx, `${name}=*`, 'Unsupported wildcard (use SourceType:*)');
    return undefined;
  }
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw badRequest(`Invalid ${name}: ${value}`, [name]);
  const [sourceType, code, targetType] = parts as [string, string, string | undefined];
  if (!isResourceType(sourceType)) throw badRequest(`Unknown resource type in ${name}: ${value}`, [name]);
  if (targetType !== undefined && !isResourceType(targetType)) throw badRequest(`Unknown resource type in ${name}: ${value}`, [name]);
  if (code !== '*') {
    const def = getSearchParam(sourceType, code);
    if (!def) {
      unknown(ctx, `${name}=${value}`, `Unknown ${name} parameter`);
      return undefined;
    }
    if (def.type !== 'reference') throw badRequest(`${sourceType}:${code} is not a reference parameter`, [name]);
  }
  const spec: IncludeSpec = { sourceType, code, iterate };
  if (targetType) spec.targetType = targetType;
  return spec;
}

/**
 * `_list=id[,id]`: resources that are an entry.item of one of the List resources. The functional
 * lists (`$current-allergies`, ...) need clinical knowledge of what is current: refused (strict) or
 * ignored with a warning (lenient).
 */
function parseList(key: string, value: string, ctx: Ctx): Extract<Filter, { kind: 'list' }> | undefined {
  if (key !== '_list') throw badRequest(`Unsupported modifier on _list: ${key}`, [key]);
  const ids = splitEscaped(value, ',').map(unescapeValue).filter((v) => v !== '');
  const functional = ids.filter((id) => id.startsWith('$'));
  if (functional.length) {
    const name = `_list=${functional.join(',')}`;
    if (ctx.strict) throw badRequest(`Functional lists are not supported: ${name}`, [key]);
    ctx.warnings.push(issue('not-supported', `Functional list ignored (not supported): ${name}`, { severity: 'warning', expression: [key] }));
    return undefined;
  }
  if (ids.length === 0) return undefined;
  if (ids.length > MAX_VALUES) throw badRequest(`Too many values for ${key}`, [key]);
  for (const id of ids) if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw badRequest(`Invalid List id in _list: ${id}`, [key]);
  return { kind: 'list', listIds: ids };
}

function parseCount(value: string, max: number, ctx: Ctx): number {
  if (!/^\d{1,9}$/.test(value)) throw badRequest(`Invalid _count: ${value}`, ['_count']);
  const n = Number(value);
  if (n > max) {
    ctx.warnings.push(issue('informational', `_count reduced to the maximum ${max}`, { severity: 'information', expression: ['_count'] }));
    return max;
  }
  return n;
}

/**
 * Parses the query of a type-level (`resourceType` given) or system-level search. Throws FhirError
 * 400 for malformed values, and for unknown parameters when options.strict.
 */
export function parseSearchRequest(
  resourceType: string | undefined,
  params: URLSearchParams | [string, string][],
  options: ParseOptions,
): ParsedSearch {
  const ctx: Ctx = {
    strict: options.strict,
    warnings: [],
    localPrefixes: (options.localBases ?? []).map((b) => (b.endsWith('/') ? b : `${b}/`)),
  };
  const applied: [string, string][] = [];
  const entries: [string, string][] = params instanceof URLSearchParams ? [...params.entries()] : params;
  if (resourceType !== undefined && !isResourceType(resourceType)) throw badRequest(`Unknown resource type ${resourceType}`);

  let types: string[] | undefined = resourceType ? [resourceType] : undefined;
  for (const [key, value] of entries) {
    if (key !== '_type') continue;
    if (resourceType) {
      unknown(ctx, '_type', 'Parameter only valid in system-level search');
      continue;
    }
    const list = value.split(',').filter((t) => t !== '');
    for (const t of list) if (!isResourceType(t)) throw badRequest(`Unknown resource type in _type: ${t}`, ['_type']);
    types = [...new Set([...(types ?? []), ...list])];
  }
  if (types && !resourceType) applied.push(['_type', types.join(',')]);

  const request: SearchRequest = {
    filters: [],
    sort: [],
    count: Math.min(options.defaultCount ?? 20, options.maxCount),
    include: [],
    revinclude: [],
    applied,
  };
  if (resourceType) request.resourceType = resourceType;
  if (types) request.types = types;

  for (const [key, value] of entries) {
    if (key === '_type') continue;
    if (PASSTHROUGH.has(key)) {
      applied.push([key, value]);
      continue;
    }
    const [base, mod] = key.split(':', 2) as [string, string | undefined];
    switch (base) {
      case '_count':
        request.count = parseCount(value, options.maxCount, ctx);
        applied.push(['_count', String(request.count)]);
        continue;
      case '_sort': {
        const keys = parseSort(types, value, ctx);
        request.sort.push(...keys);
        if (keys.length) applied.push(['_sort', keys.map((k) => `${k.descending ? '-' : ''}${k.code}`).join(',')]);
        continue;
      }
      case '_total':
        if (value !== 'none' && value !== 'estimate' && value !== 'accurate') throw badRequest(`Invalid _total: ${value}`, ['_total']);
        request.total = value;
        applied.push([key, value]);
        continue;
      case '_summary':
        if (!['true', 'text', 'data', 'count', 'false'].includes(value)) throw badRequest(`Invalid _summary: ${value}`, ['_summary']);
        request.summary = value as SummaryMode;
        applied.push([key, value]);
        continue;
      case '_elements': {
        const els = value.split(',').filter((e) => e !== '');
        for (const e of els) if (!/^[A-Za-z][A-Za-z0-9_.]*$/.test(e)) throw badRequest(`Invalid _elements: ${e}`, ['_elements']);
        request.elements = [...(request.elements ?? []), ...els];
        if (els.length) applied.push([key, els.join(',')]);
        continue;
      }
      case '_cursor':
        request.cursor = decodeCursor(value);
        continue;
      case '_include':
      case '_revinclude': {
        if (mod !== undefined && mod !== 'iterate' && mod !== 'recurse') throw badRequest(`Invalid modifier ${key}`, [key]);
        const kept: string[] = [];
        for (const v of value.split(',').filter((x) => x !== '')) {
          const spec = parseInclude(v, mod !== undefined, base, ctx);
          if (!spec) continue;
          (base === '_include' ? request.include : request.revinclude).push(spec);
          kept.push(v);
        }
        // :recurse is R3's name for :iterate; the link spells what was applied.
        if (kept.length) applied.push([mod === undefined ? base : `${base}:iterate`, kept.join(',')]);
        continue;
      }
      case '_list': {
        const filter = parseList(key, value, ctx);
        if (filter) {
          request.filters.push(filter);
          applied.push(['_list', filter.listIds.join(',')]);
        }
        continue;
      }
      default:
        break;
    }
    if (value === '') continue; // an empty parameter value is ignored (FHIR search 3.1.1.5)
    try {
      request.filters.push(parseParam(types, key, value, ctx, 0));
      applied.push([key, value]);
    } catch (err) {
      if (!(err instanceof UnknownParam)) throw err;
      unknown(ctx, key);
    }
  }
  return { request, warnings: ctx.warnings };
}

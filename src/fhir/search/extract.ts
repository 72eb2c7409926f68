// Index extraction: evaluates every search parameter of the resource's type (R4 definitions,
// FHIRPath with the R4 model) and turns the resulting FHIR values into index rows. Pure; the storage
// layer writes the rows in the resource's write transaction.
import type { Resource } from '@medplum/fhirtypes';
import { FhirError, issue } from '../outcome.js';
import { compileExpression } from './expression.js';
import { directEvaluator, elementNames, hasAnyName, rootElements } from './simple-paths.js';
import { getSearchParameterByUrl, searchParametersFor, type SearchParamDef } from './parameters.js';
import type { CompositeRow, DateRow, IndexRows, QuantityRow, ReferenceRow, SearchParamType, TokenRow } from './types.js';
import { dateRange, MAX_TOKEN, MAX_URI, normalizeString, parseReference } from './values.js';

type Obj = Record<string, unknown>;
interface Typed {
  value: unknown;
  type: string;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.flatMap((x) => (typeof x === 'string' && x ? [x] : [])) : []);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const cut = (s: string | undefined, n: number): string | null => (s === undefined ? null : s.slice(0, n));

export function emptyRows(): IndexRows {
  return { token: [], string: [], date: [], number: [], quantity: [], reference: [], uri: [], composite: [] };
}

// ---- per-type value conversion --------------------------------------------------------------

// The converters push into the caller's array (no per-value arrays to flatten, no per-call closures: under the
// tsx loader every closure created at run time also pays a `__name` call).

function codingRow(code: string, c: Obj, text: string | undefined): TokenRow {
  return {
    code,
    system: cut(str(c.system), MAX_URI),
    value: cut(str(c.code), MAX_TOKEN),
    text: (text ?? str(c.display)) ? normalizeString(text ?? str(c.display) ?? '') : null,
  };
}

function pushTokens(out: TokenRow[], code: string, { value, type }: Typed): void {
  if (!isObj(value)) {
    // code, string, uri, id, boolean and number values: the value is the code, with no system.
    if (typeof value !== 'string' && typeof value !== 'boolean' && typeof value !== 'number') return;
    if (value === '') return;
    out.push({ code, system: null, value: cut(String(value), MAX_TOKEN), text: null });
    return;
  }
  if (type === 'CodeableConcept' || Array.isArray(value.coding) || (type !== 'Identifier' && typeof value.text === 'string' && !('value' in value))) {
    const text = str(value.text);
    let any = false;
    if (Array.isArray(value.coding)) {
      for (const c of value.coding as unknown[]) {
        if (!isObj(c)) continue;
        out.push(codingRow(code, c, text ?? str(c.display)));
        any = true;
      }
    }
    if (!any && text) out.push({ code, system: null, value: null, text: normalizeString(text) });
    return;
  }
  if (type === 'Identifier' || (type !== 'ContactPoint' && 'value' in value && !('code' in value))) {
    const typeText = isObj(value.type) ? str(value.type.text) : undefined;
    if (!str(value.value) && !str(value.system)) return;
    out.push({ code, system: cut(str(value.system), MAX_URI), value: cut(str(value.value), MAX_TOKEN), text: typeText ? normalizeString(typeText) : null });
    return;
  }
  if (type === 'ContactPoint') {
    const v = str(value.value);
    if (v) out.push({ code, system: null, value: cut(v, MAX_TOKEN), text: null });
    return;
  }
  if ('code' in value || 'system' in value) out.push(codingRow(code, value, undefined));
}

function tokens(code: string, typed: Typed): TokenRow[] {
  const out: TokenRow[] = [];
  pushTokens(out, code, typed);
  return out;
}

const STRING_KEYS = ['text', 'family', 'city', 'district', 'state', 'postalCode', 'country'];
const STRING_LIST_KEYS = ['given', 'prefix', 'suffix', 'line'];

function strings(value: unknown): string[] {
  if (typeof value === 'string') return value ? [value] : [];
  if (!isObj(value)) return [];
  const parts: string[] = [];
  for (const key of STRING_KEYS) {
    const s = str(value[key]);
    if (s) parts.push(s);
  }
  for (const key of STRING_LIST_KEYS) {
    const list = value[key];
    if (!Array.isArray(list)) continue;
    for (const x of list as unknown[]) if (typeof x === 'string' && x) parts.push(x);
  }
  return parts;
}

/** String rows of one value (the exact text is kept to 400 characters, the normalised one to MAX_STRING). */
function pushStrings(out: IndexRows['string'], code: string, value: unknown): void {
  if (typeof value === 'string') {
    if (value) out.push({ code, normalized: normalizeString(value), exact: value.slice(0, 400) });
    return;
  }
  for (const s of strings(value)) out.push({ code, normalized: normalizeString(s), exact: s.slice(0, 400) });
}

function dates(code: string, { value, type }: Typed): DateRow[] {
  if (typeof value === 'string') {
    const r = dateRange(value);
    return r ? [{ code, ...r }] : [];
  }
  if (!isObj(value)) return [];
  if (type === 'Period' || 'start' in value || 'end' in value) {
    const start = str(value.start) ? dateRange(value.start as string) : undefined;
    const end = str(value.end) ? dateRange(value.end as string) : undefined;
    if (!start && !end) return [];
    return [{ code, low: start?.low ?? '-infinity', high: end?.high ?? 'infinity' }];
  }
  if (type === 'Timing' || 'event' in value || 'repeat' in value) {
    const ranges = strs(value.event).flatMap((e) => dateRange(e) ?? []);
    const bounds = isObj(value.repeat) && isObj(value.repeat.boundsPeriod) ? value.repeat.boundsPeriod : undefined;
    const rows = ranges.map((r) => ({ code, ...r }));
    if (bounds) rows.push(...dates(code, { value: bounds, type: 'Period' }));
    return rows;
  }
  return [];
}

function quantities(code: string, { value, type }: Typed): QuantityRow[] {
  if (!isObj(value)) return [];
  if (type === 'Range' || 'low' in value || 'high' in value) {
    const low = isObj(value.low) ? value.low : undefined;
    const high = isObj(value.high) ? value.high : undefined;
    const unitOf = low ?? high;
    if (!unitOf) return [];
    return [
      {
        code,
        low: num(low?.value) ?? -Infinity,
        high: num(high?.value) ?? Infinity,
        system: cut(str(unitOf.system), MAX_URI),
        unitCode: cut(str(unitOf.code), MAX_TOKEN),
        unit: cut(str(unitOf.unit), MAX_TOKEN),
      },
    ];
  }
  const v = num(value.value);
  if (v === undefined) return [];
  if (type === 'Money' || 'currency' in value) {
    const currency = cut(str(value.currency), MAX_TOKEN);
    return [{ code, low: v, high: v, system: currency ? 'urn:iso:std:iso:4217' : null, unitCode: currency, unit: currency }];
  }
  return [{ code, low: v, high: v, system: cut(str(value.system), MAX_URI), unitCode: cut(str(value.code), MAX_TOKEN), unit: cut(str(value.unit), MAX_TOKEN) }];
}

const NO_TARGET: { type?: string; id?: string; url?: string } = {};

function referenceRow(code: string, ref: { type?: string; id?: string; url?: string }, ident: Obj | undefined): ReferenceRow {
  return {
    code,
    targetType: ref.type ?? null,
    targetId: ref.id ?? null,
    url: ref.url ?? null,
    identifierSystem: cut(str(ident?.system), MAX_URI),
    identifierValue: cut(str(ident?.value), MAX_TOKEN),
  };
}

function pushReferences(out: ReferenceRow[], code: string, { value }: Typed): void {
  // canonical / uri references: the canonical url without its |version.
  if (typeof value === 'string') {
    if (value) out.push(referenceRow(code, { url: value.split('|')[0]!.slice(0, MAX_URI) }, undefined));
    return;
  }
  if (!isObj(value)) return;
  const ident = isObj(value.identifier) ? value.identifier : undefined;
  const reference = str(value.reference);
  if (reference) {
    if (reference.startsWith('#')) {
      if (ident) out.push(referenceRow(code, NO_TARGET, ident));
      return;
    }
    out.push(referenceRow(code, parseReference(reference), ident));
    return;
  }
  if (ident) out.push(referenceRow(code, str(value.type) ? { type: value.type as string } : NO_TARGET, ident));
}

function references(code: string, typed: Typed): ReferenceRow[] {
  const out: ReferenceRow[] = [];
  pushReferences(out, code, typed);
  return out;
}

function numbers(code: string, { value }: Typed): { code: string; low: number; high: number }[] {
  const v = num(value) ?? (typeof value === 'string' && value.trim() !== '' ? num(Number(value)) : undefined);
  return v === undefined ? [] : [{ code, low: v, high: v }];
}

function uris(code: string, { value }: Typed): { code: string; value: string }[] {
  return typeof value === 'string' && value ? [{ code, value: value.slice(0, MAX_URI) }] : [];
}

// ---- composite ------------------------------------------------------------------------------

type Part = Omit<CompositeRow, 'code'>;
const EMPTY_PART: Part = { c1System: null, c1Value: null, c2System: null, c2Value: null, c2Low: null, c2High: null, c2DateLow: null, c2DateHigh: null };

/** Component values as composite columns; c = 1 for the first component (token/reference/string only). */
function componentParts(type: SearchParamType, values: Typed[], c: 1 | 2): Partial<Part>[] {
  const key = (sys: string | null, val: string | null): Partial<Part> => (c === 1 ? { c1System: sys, c1Value: val } : { c2System: sys, c2Value: val });
  switch (type) {
    case 'token':
      return values.flatMap((v) => tokens('', v)).filter((t) => t.value !== null).map((t) => key(t.system, t.value));
    case 'reference':
      return values.flatMap((v) => references('', v)).map((r) => key(null, r.targetType && r.targetId ? `${r.targetType}/${r.targetId}` : r.url));
    case 'string':
      return values.flatMap((v) => strings(v.value)).map((s) => key(null, normalizeString(s)));
    case 'uri':
      return values.flatMap((v) => uris('', v)).map((u) => key(null, u.value));
    default:
      if (c === 1) return [];
  }
  switch (type) {
    case 'quantity':
      return values.flatMap((v) => quantities('', v)).map((q) => ({ c2Low: q.low, c2High: q.high, c2System: q.system, c2Value: q.unitCode ?? q.unit }));
    case 'number':
      return values.flatMap((v) => numbers('', v)).map((n) => ({ c2Low: n.low, c2High: n.high }));
    case 'date':
      return values.flatMap((v) => dates('', v)).map((d) => ({ c2DateLow: d.low, c2DateHigh: d.high }));
    default:
      return [];
  }
}

function composites(def: SearchParamDef, items: { value: unknown; path: string }[], resourceType: string): CompositeRow[] {
  const comps = def.components ?? [];
  if (comps.length !== 2) return []; // three-part composites (MolecularSequence) are not indexed
  const types = comps.map((c) => getSearchParameterByUrl(c.definition)?.type);
  if (!types[0] || !types[1]) return [];
  const rows: CompositeRow[] = [];
  for (const item of items) {
    const base = item.path && item.path.includes('.') ? item.path : resourceType;
    const first = componentParts(types[0], compileExpression(comps[0]!.expression, base)(item.value), 1);
    const second = componentParts(types[1], compileExpression(comps[1]!.expression, base)(item.value), 2);
    for (const a of first) for (const b of second) rows.push({ code: def.code, ...EMPTY_PART, ...a, ...b });
  }
  return rows;
}

// ---- entry point ----------------------------------------------------------------------------

/** How each search parameter of a type is evaluated (simple-paths.ts), built once per type. */
interface ParamPlan {
  def: SearchParamDef & { expression: string };
  /** Skip the parameter when the resource has none of these elements. */
  roots: string[] | undefined;
  direct: ((resource: Record<string, unknown>) => { value: unknown; type: string; path: string }[] | undefined) | undefined;
  evaluate: (resource: unknown) => { value: unknown; type: string; path: string }[];
}
interface TypePlan {
  params: ParamPlan[];
  /**
   * Whether no two parameters share a code. Every row carries its parameter's code, so then two equal rows can
   * only come from one parameter, and each parameter's rows are deduplicated on their own as they are added
   * (most parameters give 0 or 1 row), instead of every table at the end.
   */
  uniqueCodes: boolean;
}
const plans = new Map<string, TypePlan>();

function plansFor(resourceType: string): TypePlan {
  let plan = plans.get(resourceType);
  if (!plan) {
    // A parameter whose rows another parameter stores (storedAs) is not extracted twice.
    const params = searchParametersFor(resourceType).flatMap((def) =>
      def.expression && !def.storedAs
        ? [{ def: def as ParamPlan['def'], roots: rootElements(def.expression, resourceType), direct: directEvaluator(def.expression, resourceType), evaluate: compileExpression(def.expression) }]
        : [],
    );
    plan = { params, uniqueCodes: new Set(params.map((p) => p.def.code)).size === params.length };
    plans.set(resourceType, plan);
  }
  return plan;
}

/**
 * The identity of a row, equal for two rows exactly when their JSON texts are equal. Flat rows (every value a
 * string, number, boolean, null or undefined, as all but composite rows are) get a length-prefixed key, which
 * is unambiguous whatever the strings contain, without JSON.stringify; anything else falls back to it.
 */
function rowKey(row: unknown): string {
  let key = '';
  for (const k in row as Record<string, unknown>) {
    const v = (row as Record<string, unknown>)[k];
    if (v === undefined) continue; // JSON.stringify leaves it out
    if (typeof v === 'string') key += `${k}:s${v.length}:${v}`;
    else if (typeof v === 'boolean') key += `${k}:b${v ? 1 : 0}`;
    else if (v === null || (typeof v === 'number' && !Number.isFinite(v))) key += `${k}:n`; // JSON writes both as null
    else if (typeof v === 'number') key += `${k}:d${String(v)};`;
    else return `j${JSON.stringify(row)}`;
  }
  return key;
}

/** Drops the repeats among rows[start..] in place, keeping each row's first occurrence. */
function dedupeFrom(rows: unknown[], start: number): void {
  const n = rows.length - start;
  if (n < 2) return;
  if (n === 2) {
    if (rowKey(rows[start]) === rowKey(rows[start + 1])) rows.pop();
    return;
  }
  const seen = new Set<string>();
  let w = start;
  for (let r = start; r < rows.length; r++) {
    const k = rowKey(rows[r]);
    if (seen.has(k)) continue;
    seen.add(k);
    rows[w++] = rows[r];
  }
  rows.length = w;
}

/** The rows without repeats, each kept at its first occurrence (a new array; rows is left as it is). */
export function dedupe<T>(rows: T[]): T[] {
  if (rows.length < 2) return rows;
  const out = rows.slice();
  dedupeFrom(out, 0);
  return out;
}

/**
 * Index rows one search parameter may produce for one resource (MAX_INDEX_ROWS configures it); all
 * parameters together may produce five times that. 5,000 names with family and given give 10,000 `name`
 * rows (`phonetic` reads those, docs/adr/0022), so that still fits.
 */
export const DEFAULT_MAX_INDEX_ROWS = 10_000;
const TOTAL_FACTOR = 5;

function tooCostly(resourceType: string, max: number, code?: string): FhirError {
  const which = code ? ` for search parameter '${code}'` : ' in all';
  return new FhirError(
    422,
    issue('too-costly', `This ${resourceType} would need more than ${max} search index rows${which}; it is refused rather than stored unsearchable`, {
      expression: [resourceType],
    }),
  );
}

/**
 * Every index row of `resource`, for all search parameters applicable to its type. A resource needing
 * more than maxRows rows is refused (422 too-costly): with 150,000 names FHIRPath's evaluator overflowed
 * the call stack (it spreads collections into push()), and that error used to be swallowed, so the
 * resource was stored with no name rows at all.
 */
export function extractIndexValues(resource: Resource | Record<string, unknown>, maxRows: number = DEFAULT_MAX_INDEX_ROWS): IndexRows {
  const rows = emptyRows();
  const resourceType = (resource as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string') return rows;
  let total = 0;
  const names = elementNames(resource as Record<string, unknown>);
  const { params, uniqueCodes } = plansFor(resourceType);
  for (const { def, roots, direct, evaluate } of params) {
    if (roots && !hasAnyName(names, roots)) continue;
    let values: { value: unknown; type: string; path: string }[];
    try {
      values = direct?.(resource as Record<string, unknown>) ?? evaluate(resource);
    } catch (err) {
      if (err instanceof RangeError) throw tooCostly(resourceType, maxRows, def.code);
      // A FHIRPath runtime error on unusual data (e.g. a wrongly typed choice) must not block the
      // write; that parameter simply has no index value for this resource.
      continue;
    }
    if (values.length > maxRows) throw tooCostly(resourceType, maxRows, def.code);
    const code = def.code;
    // The parameter's rows are appended to their table, then bounded: one parameter at most maxRows rows, all
    // together at most maxRows * TOTAL_FACTOR (a refusal discards the rows, so counting after appending gives
    // the same answer as counting before). `values.length` is bounded above, so the append is too.
    // The tables are named after the parameter types; a type without one (special) is not indexed here.
    if (!Object.hasOwn(rows, def.type)) continue;
    const target = rows[def.type as keyof IndexRows] as unknown[];
    const start = target.length;
    switch (def.type) {
      case 'token':
        for (const v of values) pushTokens(rows.token, code, v);
        break;
      case 'string':
        for (const v of values) pushStrings(rows.string, code, v.value);
        break;
      case 'date':
        for (const v of values) for (const r of dates(code, v)) rows.date.push(r);
        break;
      case 'number':
        for (const v of values) for (const r of numbers(code, v)) rows.number.push(r);
        break;
      case 'quantity':
        for (const v of values) for (const r of quantities(code, v)) rows.quantity.push(r);
        break;
      case 'reference':
        for (const v of values) pushReferences(rows.reference, code, v);
        break;
      case 'uri':
        for (const v of values) for (const r of uris(code, v)) rows.uri.push(r);
        break;
      case 'composite':
        for (const r of composites(def, values, resourceType)) rows.composite.push(r);
        break;
    }
    const added = target.length - start;
    total += added;
    if (added > maxRows) throw tooCostly(resourceType, maxRows, code);
    if (total > maxRows * TOTAL_FACTOR) throw tooCostly(resourceType, maxRows * TOTAL_FACTOR);
    if (uniqueCodes) dedupeFrom(target, start);
  }
  if (!uniqueCodes) for (const table of Object.values(rows) as unknown[][]) dedupeFrom(table, 0);
  return rows;
}

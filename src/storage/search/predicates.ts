// Turns search AST filters into SQL predicates over a `resource` row alias. Every predicate is an
// EXISTS over one index table with `resource_type = ... AND code = ...` plus the value condition, so
// PostgreSQL can drive the query from the most selective (resource_type, code, value, rid) index and
// probe the rest through (rid, code).
import type { DateValue, Filter, NumberValue, QuantityValue, SearchParamType, SearchValue, TokenValue } from '../../fhir/search/types.js';
import type { AccessFilter } from '../../access/viewer.js';
import { storedCode } from '../../fhir/search/parameters.js';
import { visibleSql } from '../member-access.js';
import { likeEscape, type SqlParams } from './sql-params.js';

export const TABLE_OF: Partial<Record<SearchParamType, string>> = {
  token: 'search_token',
  string: 'search_string',
  date: 'search_date',
  number: 'search_number',
  quantity: 'search_quantity',
  reference: 'search_reference',
  uri: 'search_uri',
  composite: 'search_composite',
};

function typeCondition(col: string, types: string[] | undefined, p: SqlParams): string {
  if (!types) return 'TRUE';
  return types.length === 1 ? `${col} = ${p.add(types[0])}` : `${col} = ANY(${p.add(types, 'text[]')})`;
}

/**
 * `code = ...` for parameter `code` on `types`, with the code its rows are stored under (storedCode: an
 * alias such as Patient's phonetic reads name's rows). When the types store it under different codes
 * (a chain reaching Organization, whose phonetic is its own, and Practitioner, whose phonetic is name),
 * one condition per stored code, each with its types.
 */
export function codeCondition(codeCol: string, typeCol: string, types: string[] | undefined, code: string, p: SqlParams): string {
  const groups = new Map<string, string[]>();
  for (const t of types ?? [undefined]) {
    const stored = storedCode(t, code);
    if (t !== undefined) groups.set(stored, [...(groups.get(stored) ?? []), t]);
    else groups.set(stored, []);
  }
  if (groups.size === 1) return `${codeCol} = ${p.add([...groups.keys()][0])}`;
  return or([...groups].map(([stored, ts]) => `(${codeCol} = ${p.add(stored)} AND ${typeCondition(typeCol, ts, p)})`));
}

function or(conds: string[]): string {
  if (conds.length === 0) return 'FALSE';
  return conds.length === 1 ? conds[0]! : `(${conds.join(' OR ')})`;
}

/**
 * Date comparison of a stored range [low, high) against a searched [sl, sh) with a FHIR prefix.
 * Only the parameters a prefix uses are added (an unreferenced parameter has no type and fails).
 */
function dateCondition(low: string, high: string, v: DateValue, p: SqlParams): string {
  const sl = (): string => p.add(v.low, 'timestamptz');
  const sh = (): string => p.add(v.high, 'timestamptz');
  const eq = (): string => `(${low} >= ${sl()} AND ${high} <= ${sh()})`;
  switch (v.prefix) {
    case 'eq':
      return eq();
    case 'ne':
      return `NOT ${eq()}`;
    case 'gt':
      return `${high} > ${sh()}`;
    case 'lt':
      return `${low} < ${sl()}`;
    case 'ge':
      return `(${high} > ${sh()} OR ${eq()})`;
    case 'le':
      return `(${low} < ${sl()} OR ${eq()})`;
    case 'sa':
      return `${low} >= ${sh()}`;
    case 'eb':
      return `${high} <= ${sl()}`;
    case 'ap': {
      // The searched range widened by 10% of its distance from now (FHIR's suggestion), at least a day.
      const lowMs = Date.parse(v.low);
      const highMs = Date.parse(v.high);
      const gap = Number.isFinite(lowMs) ? Math.max(Math.abs(Date.now() - lowMs) * 0.1, 86_400_000) : 0;
      const widen = (ms: number, fallback: string): string =>
        Number.isFinite(ms) && Math.abs(ms) < 2.5e14 ? new Date(ms).toISOString() : fallback;
      return `(${low} < ${p.add(widen(highMs + gap, v.high), 'timestamptz')} AND ${high} > ${p.add(widen(lowMs - gap, v.low), 'timestamptz')})`;
    }
  }
}

/** Stored numbers are points or ranges [low, high]; searched values carry their precision range. */
function numberCondition(low: string, high: string, v: NumberValue | QuantityValue, p: SqlParams): string {
  const point = (): string => p.add(String(v.value), 'numeric');
  const eq = (): string => `(${low} >= ${p.add(String(v.low), 'numeric')} AND ${high} < ${p.add(String(v.high), 'numeric')})`;
  const spread = Math.abs(v.value) * 0.1;
  switch (v.prefix) {
    case 'eq':
      return eq();
    case 'ne':
      return `NOT ${eq()}`;
    case 'gt':
      return `${high} > ${point()}`;
    case 'lt':
      return `${low} < ${point()}`;
    case 'ge':
      return `${high} >= ${point()}`;
    case 'le':
      return `${low} <= ${point()}`;
    case 'sa':
      return `${low} > ${point()}`;
    case 'eb':
      return `${high} < ${point()}`;
    case 'ap':
      return `(${low} <= ${p.add(String(v.value + spread), 'numeric')} AND ${high} >= ${p.add(String(v.value - spread), 'numeric')})`;
  }
}

function tokenCondition(sys: string, val: string, v: TokenValue, p: SqlParams): string {
  const conds: string[] = [];
  if (v.system === null) conds.push(`${sys} IS NULL`);
  else if (v.system !== undefined) conds.push(`${sys} = ${p.add(v.system)}`);
  if (v.code !== undefined) conds.push(`${val} = ${p.add(v.code)}`);
  return conds.length ? `(${conds.join(' AND ')})` : 'TRUE';
}

function valueCondition(i: string, f: Extract<Filter, { kind: 'param' }>, v: SearchValue, p: SqlParams): string {
  switch (v.kind) {
    case 'token':
      if (f.paramType === 'reference') return tokenCondition(`${i}.identifier_system`, `${i}.identifier_value`, v, p);
      return tokenCondition(`${i}.system`, `${i}.value`, v, p);
    case 'string':
      if (f.modifier === 'text') return `${i}.text_norm LIKE ${p.add(`%${likeEscape(v.normalized)}%`)}`;
      if (f.modifier === 'exact') return `(${i}.value_norm = ${p.add(v.normalized)} AND ${i}.value_exact = ${p.add(v.value)})`;
      if (f.modifier === 'contains') return `${i}.value_norm LIKE ${p.add(`%${likeEscape(v.normalized)}%`)}`;
      return `${i}.value_norm LIKE ${p.add(`${likeEscape(v.normalized)}%`)}`;
    case 'uri':
      if (f.modifier === 'below') return `${i}.value LIKE ${p.add(`${likeEscape(v.value)}%`)}`;
      if (f.modifier === 'contains') return `${i}.value LIKE ${p.add(`%${likeEscape(v.value)}%`)}`;
      if (f.modifier === 'above') {
        // Every prefix of the searched uri ending at a path boundary (plus the uri itself).
        const prefixes = [v.value];
        for (let k = v.value.indexOf('/'); k >= 0; k = v.value.indexOf('/', k + 1)) prefixes.push(v.value.slice(0, k));
        return `${i}.value = ANY(${p.add(prefixes, 'text[]')})`;
      }
      return `${i}.value = ${p.add(v.value)}`;
    case 'reference': {
      if (v.url !== undefined) return `${i}.url = ${p.add(v.url)}`;
      const conds = [`${i}.target_id = ${p.add(v.id)}`];
      if (v.type) conds.push(`${i}.target_type = ${p.add(v.type)}`);
      return `(${conds.join(' AND ')})`;
    }
    case 'date':
      return dateCondition(`${i}.low`, `${i}.high`, v, p);
    case 'number':
      return numberCondition(`${i}.low`, `${i}.high`, v, p);
    case 'quantity': {
      const conds = [numberCondition(`${i}.low`, `${i}.high`, v, p)];
      if (v.system !== undefined) conds.push(`${i}.system = ${p.add(v.system)}`);
      if (v.unit !== undefined) conds.push(v.system !== undefined ? `${i}.unit_code = ${p.add(v.unit)}` : `(${i}.unit_code = ${p.add(v.unit)} OR ${i}.unit = ${p.add(v.unit)})`);
      return `(${conds.join(' AND ')})`;
    }
    case 'composite':
      return compositeCondition(i, v.parts, p);
  }
}

function compositeCondition(i: string, [a, b]: [SearchValue, SearchValue], p: SqlParams): string {
  const conds: string[] = [];
  const keyed = (sys: string, val: string, v: SearchValue): string => {
    if (v.kind === 'token') return tokenCondition(sys, val, v, p);
    if (v.kind === 'string') return `${val} LIKE ${p.add(`${likeEscape(v.normalized)}%`)}`;
    if (v.kind === 'uri') return `${val} = ${p.add(v.value)}`;
    if (v.kind === 'reference') return `${val} = ${p.add(v.url ?? (v.type ? `${v.type}/${v.id}` : v.id))}`;
    return 'FALSE';
  };
  conds.push(keyed(`${i}.c1_system`, `${i}.c1_value`, a));
  if (b.kind === 'quantity' || b.kind === 'number') {
    conds.push(numberCondition(`${i}.c2_low`, `${i}.c2_high`, b, p));
    if (b.kind === 'quantity') {
      if (b.system !== undefined) conds.push(`${i}.c2_system = ${p.add(b.system)}`);
      if (b.unit !== undefined) conds.push(`${i}.c2_value = ${p.add(b.unit)}`);
    }
  } else if (b.kind === 'date') {
    conds.push(dateCondition(`${i}.c2_date_low`, `${i}.c2_date_high`, b, p));
  } else {
    conds.push(keyed(`${i}.c2_system`, `${i}.c2_value`, b));
  }
  return `(${conds.join(' AND ')})`;
}

/** ` AND <row visible>` for a resource row alias other than the searched one, or nothing without access control. */
function alsoVisible(row: string, p: SqlParams, access: AccessFilter | undefined): string {
  return access ? ` AND ${visibleSql(access, `${row}.members`, p)}` : '';
}

/**
 * A SQL boolean expression: does the resource row aliased `a` match filter f? With access, the other
 * resources a filter looks at (chain targets, _has sources, _list Lists) count only when visible, so
 * what a client may not see cannot make a resource match.
 */
export function filterSql(f: Filter, a: string, p: SqlParams, access?: AccessFilter): string {
  switch (f.kind) {
    case 'id': {
      const cond = f.ids.length === 1 ? `${a}.id = ${p.add(f.ids[0])}` : `${a}.id = ANY(${p.add(f.ids, 'text[]')})`;
      return f.not ? `NOT (${cond})` : cond;
    }
    case 'missing': {
      if (f.code === '_lastUpdated') return f.missing ? 'FALSE' : 'TRUE';
      const table = TABLE_OF[f.paramType];
      if (!table) return 'FALSE';
      const i = p.alias();
      const exists = `EXISTS (SELECT 1 FROM ${table} ${i} WHERE ${i}.rid = ${a}.rid AND ${codeCondition(`${i}.code`, `${a}.resource_type`, f.resourceTypes, f.code, p)})`;
      return f.missing ? `NOT ${exists}` : exists;
    }
    case 'param': {
      if (f.code === '_lastUpdated') return lastUpdatedSql(f, a, p);
      const table = TABLE_OF[f.paramType];
      if (!table) return 'FALSE';
      const i = p.alias();
      const head = `SELECT 1 FROM ${table} ${i} WHERE ${i}.rid = ${a}.rid AND ${typeCondition(`${i}.resource_type`, f.resourceTypes, p)} AND ${codeCondition(`${i}.code`, `${i}.resource_type`, f.resourceTypes, f.code, p)}`;
      if (f.codes) {
        // :in / :not-in: the expansion as two parallel arrays, one parameter each whatever its size. A
        // `code` element is stored without a system (it is implied by its binding): it matches by code.
        const codes = p.add(f.codes.map((c) => c.code), 'text[]');
        const inSet = `((${i}.system, ${i}.value) IN (SELECT * FROM unnest(${p.add(f.codes.map((c) => c.system), 'text[]')}, ${codes}))
          OR (${i}.system IS NULL AND ${i}.value = ANY(${codes})))`;
        return f.modifier === 'not-in' ? `NOT EXISTS (${head} AND ${inSet})` : `EXISTS (${head} AND ${inSet})`;
      }
      if (f.modifier === 'not') {
        // :not matches resources with no value equal to any of the values (including no value at all).
        return `NOT EXISTS (${head} AND ${or(f.values.map((v) => valueCondition(i, f, v, p)))})`;
      }
      return `EXISTS (${head} AND ${or(f.values.map((v) => valueCondition(i, f, v, p)))})`;
    }
    case 'chain': {
      const i = p.alias();
      const t = p.alias();
      return `EXISTS (SELECT 1 FROM search_reference ${i} JOIN resource ${t} ON ${t}.resource_type = ${i}.target_type AND ${t}.id = ${i}.target_id
        WHERE ${i}.rid = ${a}.rid AND ${typeCondition(`${i}.resource_type`, f.resourceTypes, p)} AND ${i}.code = ${p.add(f.code)}
          AND ${typeCondition(`${i}.target_type`, f.targetTypes, p)} AND NOT ${t}.deleted AND ${filterSql(f.filter, t, p, access)}${alsoVisible(t, p, access)})`;
    }
    case 'has': {
      const i = p.alias();
      const s = p.alias();
      return `EXISTS (SELECT 1 FROM search_reference ${i} JOIN resource ${s} ON ${s}.rid = ${i}.rid
        WHERE ${i}.resource_type = ${p.add(f.sourceType)} AND ${i}.code = ${p.add(f.code)}
          AND ${i}.target_id = ${a}.id AND ${i}.target_type = ${a}.resource_type AND NOT ${s}.deleted AND ${filterSql(f.filter, s, p, access)}${alsoVisible(s, p, access)})`;
    }
    case 'list': {
      // List.entry.item is the List's `item` reference parameter: the index already holds the members.
      const i = p.alias();
      const l = p.alias();
      return `EXISTS (SELECT 1 FROM search_reference ${i} JOIN resource ${l} ON ${l}.rid = ${i}.rid
        WHERE ${i}.resource_type = 'List' AND ${i}.code = 'item' AND ${l}.id = ANY(${p.add(f.listIds, 'text[]')}) AND NOT ${l}.deleted
          AND ${i}.target_id = ${a}.id AND ${i}.target_type = ${a}.resource_type${alsoVisible(l, p, access)})`;
    }
  }
}

/** _lastUpdated compares against resource.last_updated, a point with millisecond precision. */
function lastUpdatedSql(f: Extract<Filter, { kind: 'param' }>, a: string, p: SqlParams): string {
  const conds = f.values.map((v) => {
    if (v.kind !== 'date') return 'FALSE';
    // The row is the range [t, t + 1ms).
    return dateCondition(`${a}.last_updated`, `(${a}.last_updated + interval '1 millisecond')`, v, p);
  });
  return or(conds);
}

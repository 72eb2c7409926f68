// Runs a parsed search (src/fhir/search) against the index tables.
//
// Paging: every page is bounded by `rid <= maxRid`, where maxRid is the highest rid when the first
// page was served (rids grow with insertion), so resources created while a client pages never shift
// or duplicate entries. Unsorted searches are ordered by rid and page by keyset (rid > afterRid,
// or rid < beforeRid backwards), which also tolerates deletes between pages; searches with _sort page
// by offset within the same bound. Updates keep a resource's rid, so an updated resource stays in
// its rid position (unsorted); with _sort its new sort value is used (offset pages may then shift).
import type { AccessFilter } from '../../access/viewer.js';
import type { IncludeSpec, SearchCursor, SearchRequest, SortKey } from '../../fhir/search/types.js';
import type { SearchPage } from '../../fhir/repository.js';
import type { Queryable } from '../database.js';
import { codeCondition, filterSql, TABLE_OF } from './predicates.js';
import { visibleSql } from '../member-access.js';
import { SqlParams } from './sql-params.js';

export interface SearchMatch {
  rid: number;
  resourceType: string;
  id: string;
  /** The stored JSON text, as served. */
  content: string;
}

/** One page of results (the fields are documented on SearchPage in src/fhir/repository.ts). */
export interface SearchResult extends SearchPage {
  matches: SearchMatch[];
  included: SearchMatch[];
}

// Search statements are built from the request's shape with every value a parameter, so repeated shapes
// reuse a prepared statement and its plan (the storage driver bounds how many it keeps).
const PREPARED = { prepare: true } as const;

export const INCLUDE_LIMIT = 1000;
export const ITERATE_ROUNDS = 3;

interface Row {
  rid: number | string;
  resource_type: string;
  id: string;
  content: string;
}

const toMatch = (r: Row): SearchMatch => ({ rid: Number(r.rid), resourceType: r.resource_type, id: r.id, content: r.content });

/** WHERE clause shared by the page, count and estimate queries. */
function whereSql(req: SearchRequest, maxRid: number, p: SqlParams): string {
  const conds = ['NOT a.deleted', `a.rid <= ${p.add(maxRid, 'bigint')}`];
  if (req.types) conds.unshift(req.types.length === 1 ? `a.resource_type = ${p.add(req.types[0])}` : `a.resource_type = ANY(${p.add(req.types, 'text[]')})`);
  for (const f of req.filters) conds.push(filterSql(f, 'a', p, req.access));
  if (req.access) conds.push(visibleSql(req.access, 'a.members', p));
  return conds.join('\n  AND ');
}

const SORT_COLUMN: Record<string, [asc: string, desc: string]> = {
  string: ['min(s.value_norm)', 'max(s.value_norm)'],
  token: ['min(s.value)', 'max(s.value)'],
  date: ['min(s.low)', 'max(s.high)'],
  number: ['min(s.low)', 'max(s.high)'],
  quantity: ['min(s.low)', 'max(s.high)'],
  reference: ["min(coalesce(s.target_type || '/' || s.target_id, s.url))", "max(coalesce(s.target_type || '/' || s.target_id, s.url))"],
  uri: ['min(s.value)', 'max(s.value)'],
};

function sortSql(keys: SortKey[], types: string[] | undefined, p: SqlParams): string {
  const parts = keys.map((k) => {
    let expr: string;
    if (k.code === '_id') expr = 'a.id';
    else if (k.code === '_lastUpdated') expr = 'a.last_updated';
    else {
      const table = TABLE_OF[k.paramType];
      const col = SORT_COLUMN[k.paramType];
      if (!table || !col) return undefined;
      expr = `(SELECT ${k.descending ? col[1] : col[0]} FROM ${table} s WHERE s.rid = a.rid AND ${codeCondition('s.code', 'a.resource_type', types, k.code, p)})`;
    }
    return `${expr} ${k.descending ? 'DESC' : 'ASC'} NULLS LAST`;
  });
  return [...parts.filter((x): x is string => x !== undefined), 'a.rid ASC'].join(', ');
}

async function maxRidNow(db: Queryable): Promise<number> {
  const res = await db.query<{ m: number | string | null }>('SELECT max(rid) AS m FROM resource', [], PREPARED);
  return Number(res.rows[0]?.m ?? 0);
}

async function countRows(db: Queryable, req: SearchRequest, maxRid: number, estimate: boolean): Promise<number> {
  const p = new SqlParams();
  const where = whereSql(req, maxRid, p);
  if (!estimate) {
    const res = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM resource a WHERE ${where}`, p.values, PREPARED);
    return Number(res.rows[0]?.n ?? 0);
  }
  // The planner's row estimate: cheap at any size, and good enough for _total=estimate.
  const res = await db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) SELECT 1 FROM resource a WHERE ${where}`, p.values);
  const raw = res.rows[0]?.['QUERY PLAN'];
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan?: { 'Plan Rows'?: number } }[];
  return Math.round(plan[0]?.Plan?.['Plan Rows'] ?? 0);
}

/** Executes a search request: one page of matches, its includes, total and paging cursors. */
export async function executeSearch(db: Queryable, request: SearchRequest): Promise<SearchResult> {
  const self: SearchCursor = request.cursor ?? { maxRid: await maxRidNow(db), offset: 0 };
  const { maxRid } = self;
  const countOnly = request.summary === 'count' || request.count === 0;
  const result: SearchResult = { matches: [], included: [], self, includeTruncated: false };
  const count = request.count;

  let hasMore = false;
  if (!countOnly) {
    const p = new SqlParams();
    const where = whereSql(request, maxRid, p);
    const sorted = request.sort.length > 0;
    let sql: string;
    let backwards = false;
    if (!sorted) {
      // With predicates, `a.rid + 0` keeps the planner from walking the whole type in rid order hoping
      // to meet LIMIT matches early; it drives from the selective index instead and sorts the few matches.
      const ridKey = request.filters.length > 0 ? '(a.rid + 0)' : 'a.rid';
      let keyset = '';
      if (self.beforeRid !== undefined) {
        keyset = `AND a.rid < ${p.add(self.beforeRid, 'bigint')}`;
        backwards = true;
      } else if (self.afterRid !== undefined) keyset = `AND a.rid > ${p.add(self.afterRid, 'bigint')}`;
      sql = `SELECT a.rid, a.resource_type, a.id, a.content FROM resource a WHERE ${where} ${keyset}
        ORDER BY ${ridKey} ${backwards ? 'DESC' : 'ASC'} LIMIT ${p.add(count + 1, 'int')}`;
    } else {
      const order = sortSql(request.sort, request.types, p);
      sql = `SELECT a.rid, a.resource_type, a.id, a.content FROM resource a WHERE ${where}
        ORDER BY ${order} LIMIT ${p.add(count + 1, 'int')} OFFSET ${p.add(self.offset, 'bigint')}`;
    }
    const rows = (await db.query<Row>(sql, p.values, PREPARED)).rows.map(toMatch);
    hasMore = rows.length > count;
    const page = rows.slice(0, count);
    if (backwards) page.reverse();
    result.matches = page;

    const first = page[0];
    const last = page[page.length - 1];
    if (!sorted) {
      const hasNext = backwards ? page.length > 0 : hasMore;
      const hasPrev = backwards ? hasMore : self.offset > 0 && first !== undefined;
      if (hasNext && last) result.next = { maxRid, offset: self.offset + count, afterRid: last.rid };
      if (hasPrev && first) result.previous = { maxRid, offset: Math.max(0, self.offset - count), beforeRid: first.rid };
    } else {
      if (hasMore) result.next = { maxRid, offset: self.offset + count };
      if (self.offset > 0) result.previous = { maxRid, offset: Math.max(0, self.offset - count) };
    }
  }

  const firstPage = self.offset === 0 && self.afterRid === undefined && self.beforeRid === undefined;
  if (request.total === 'accurate' || (countOnly && request.total !== 'none' && request.total !== 'estimate')) {
    result.total = await countRows(db, request, maxRid, false);
  } else if (request.total === 'estimate') {
    result.total = countOnly || !firstPage || hasMore ? await countRows(db, request, maxRid, true) : result.matches.length;
    result.totalIsEstimate = countOnly || !firstPage || hasMore;
  } else if (request.total === undefined && firstPage && !hasMore && !countOnly) {
    result.total = result.matches.length; // free: the whole result is on this page
  }

  if (result.matches.length > 0 && (request.include.length > 0 || request.revinclude.length > 0)) {
    const inc = await runIncludes(db, request, result.matches);
    result.included = inc.rows;
    result.includeTruncated = inc.truncated;
  }
  return result;
}

async function includeRows(db: Queryable, spec: IncludeSpec, sources: SearchMatch[], limit: number, access?: AccessFilter): Promise<SearchMatch[]> {
  const p = new SqlParams();
  const anySource = spec.sourceType === '*';
  const src = anySource ? sources : sources.filter((s) => s.resourceType === spec.sourceType);
  if (src.length === 0) return [];
  const conds = [`i.rid = ANY(${p.add(src.map((s) => s.rid), 'bigint[]')})`];
  if (!anySource) conds.push(`i.resource_type = ${p.add(spec.sourceType)}`);
  if (spec.code !== '*') conds.push(`i.code = ${p.add(spec.code)}`);
  if (spec.targetType) conds.push(`i.target_type = ${p.add(spec.targetType)}`);
  if (access) conds.push(visibleSql(access, 't.members', p));
  const sql = `SELECT DISTINCT t.rid, t.resource_type, t.id, t.content
    FROM search_reference i JOIN resource t ON t.resource_type = i.target_type AND t.id = i.target_id
    WHERE ${conds.join(' AND ')} AND NOT t.deleted ORDER BY t.rid LIMIT ${p.add(limit, 'int')}`;
  return (await db.query<Row>(sql, p.values, PREPARED)).rows.map(toMatch);
}

async function revincludeRows(db: Queryable, spec: IncludeSpec, targets: SearchMatch[], limit: number, access?: AccessFilter): Promise<SearchMatch[]> {
  const p = new SqlParams();
  const tgt = spec.targetType ? targets.filter((t) => t.resourceType === spec.targetType) : targets;
  if (tgt.length === 0) return [];
  const conds = [`i.resource_type = ${p.add(spec.sourceType)}`];
  if (spec.code !== '*') conds.push(`i.code = ${p.add(spec.code)}`);
  if (access) conds.push(visibleSql(access, 's.members', p));
  const sql = `SELECT DISTINCT s.rid, s.resource_type, s.id, s.content
    FROM search_reference i JOIN resource s ON s.rid = i.rid
    WHERE ${conds.join(' AND ')}
      AND (i.target_type, i.target_id) IN (SELECT * FROM unnest(${p.add(tgt.map((t) => t.resourceType), 'text[]')}, ${p.add(tgt.map((t) => t.id), 'text[]')}))
      AND NOT s.deleted ORDER BY s.rid LIMIT ${p.add(limit, 'int')}`;
  return (await db.query<Row>(sql, p.values, PREPARED)).rows.map(toMatch);
}

/** _include/_revinclude over the page, then :iterate specs over what was added, for a bounded number of rounds. */
async function runIncludes(db: Queryable, req: SearchRequest, matches: SearchMatch[]): Promise<{ rows: SearchMatch[]; truncated: boolean }> {
  const seen = new Set(matches.map((m) => m.rid));
  const out: SearchMatch[] = [];
  let truncated = false;
  const add = (rows: SearchMatch[]): SearchMatch[] => {
    const fresh: SearchMatch[] = [];
    for (const r of rows) {
      if (seen.has(r.rid)) continue;
      if (out.length >= INCLUDE_LIMIT) {
        truncated = true;
        break;
      }
      seen.add(r.rid);
      out.push(r);
      fresh.push(r);
    }
    return fresh;
  };
  const round = async (sources: SearchMatch[], onlyIterate: boolean): Promise<SearchMatch[]> => {
    const fresh: SearchMatch[] = [];
    for (const spec of req.include) {
      if (onlyIterate && !spec.iterate) continue;
      fresh.push(...add(await includeRows(db, spec, sources, INCLUDE_LIMIT + 1, req.access)));
    }
    for (const spec of req.revinclude) {
      if (onlyIterate && !spec.iterate) continue;
      fresh.push(...add(await revincludeRows(db, spec, sources, INCLUDE_LIMIT + 1, req.access)));
    }
    return fresh;
  };
  let fresh = await round(matches, false);
  const iterating = req.include.some((s) => s.iterate) || req.revinclude.some((s) => s.iterate);
  for (let i = 0; iterating && i < ITERATE_ROUNDS && fresh.length > 0 && !truncated; i++) fresh = await round(fresh, true);
  return { rows: out, truncated };
}

// Conditional create/update/delete: ids of current resources matching a search query string. Parsed
// strictly, because silently ignoring an unknown parameter would widen the match and, say, update or
// delete the wrong resources.
import { parseSearchRequest } from '../../fhir/search/parse.js';
import type { Queryable } from '../database.js';
import { SqlParams } from './sql-params.js';
import { filterSql } from './predicates.js';

const CONTROL = new Set(['_count', '_sort', '_include', '_revinclude', '_total', '_summary', '_elements', '_cursor', '_format', '_pretty']);

export async function findMatchingIds(tx: Queryable, resourceType: string, params: URLSearchParams, limit = 1000): Promise<string[]> {
  const filtered: [string, string][] = [...params.entries()].filter(([k]) => !CONTROL.has(k.split(':')[0]!));
  const { request } = parseSearchRequest(resourceType, filtered, { strict: true, maxCount: limit });
  const p = new SqlParams();
  const conds = [`a.resource_type = ${p.add(resourceType)}`, 'NOT a.deleted', ...request.filters.map((f) => filterSql(f, 'a', p))];
  const res = await tx.query<{ id: string }>(`SELECT a.id FROM resource a WHERE ${conds.join(' AND ')} ORDER BY a.rid LIMIT ${p.add(limit, 'int')}`, p.values, { prepare: true });
  return res.rows.map((r) => r.id);
}

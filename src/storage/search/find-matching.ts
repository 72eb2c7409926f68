// Conditional create/update/delete: ids of current resources matching a search query string (parsed as
// conditional criteria, src/fhir/search/criteria.ts).
import { parseCriteria } from '../../fhir/search/criteria.js';
import type { Queryable } from '../database.js';
import { SqlParams } from './sql-params.js';
import { filterSql } from './predicates.js';
import type { AccessFilter } from '../../access/viewer.js';
import { visibleSql } from '../member-access.js';

/** With access, only resources the client may see match: the others answer as if they did not exist. */
export async function findMatchingIds(tx: Queryable, resourceType: string, params: URLSearchParams, limit = 1000, access?: AccessFilter): Promise<string[]> {
  const request = parseCriteria(resourceType, params, limit);
  const p = new SqlParams();
  const conds = [`a.resource_type = ${p.add(resourceType)}`, 'NOT a.deleted', ...request.filters.map((f) => filterSql(f, 'a', p, access))];
  if (access) conds.push(visibleSql(access, 'a.members', p));
  const res = await tx.query<{ id: string }>(`SELECT a.id FROM resource a WHERE ${conds.join(' AND ')} ORDER BY a.rid LIMIT ${p.add(limit, 'int')}`, p.values, { prepare: true });
  return res.rows.map((r) => r.id);
}

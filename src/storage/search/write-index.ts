// Writes a resource's search index rows (see migrations/0002_search_index.sql). One statement per
// write: delete the old rows of every table and insert the new ones through unnest() of parallel
// arrays, so indexing costs a single round trip inside the caller's transaction.
import type { Resource } from '@medplum/fhirtypes';
import { indexValuesFor } from '../../fhir/search/prepared-index.js';
import type { IndexRows } from '../../fhir/search/types.js';
import type { Queryable } from '../database.js';

export const TABLES = ['search_token', 'search_string', 'search_date', 'search_number', 'search_quantity', 'search_reference', 'search_uri', 'search_composite'];

// Served from the resource row itself (id, last_updated), so never stored twice.
export const ROW_BACKED = new Set(['_id', '_lastUpdated']);

export interface TableSpec {
  table: string;
  columns: [name: string, sqlType: string][];
  values: (rows: IndexRows) => unknown[][];
}

export const SPECS: TableSpec[] = [
  {
    table: 'search_token',
    columns: [['code', 'text'], ['system', 'text'], ['value', 'text'], ['text_norm', 'text']],
    values: (r) => r.token.map((t) => [t.code, t.system, t.value, t.text]),
  },
  {
    table: 'search_string',
    columns: [['code', 'text'], ['value_norm', 'text'], ['value_exact', 'text']],
    values: (r) => r.string.map((s) => [s.code, s.normalized, s.exact]),
  },
  {
    table: 'search_date',
    columns: [['code', 'text'], ['low', 'timestamptz'], ['high', 'timestamptz']],
    values: (r) => r.date.map((d) => [d.code, d.low, d.high]),
  },
  {
    table: 'search_number',
    columns: [['code', 'text'], ['low', 'numeric'], ['high', 'numeric']],
    values: (r) => r.number.map((n) => [n.code, num(n.low), num(n.high)]),
  },
  {
    table: 'search_quantity',
    columns: [['code', 'text'], ['low', 'numeric'], ['high', 'numeric'], ['system', 'text'], ['unit_code', 'text'], ['unit', 'text']],
    values: (r) => r.quantity.map((q) => [q.code, num(q.low), num(q.high), q.system, q.unitCode, q.unit]),
  },
  {
    table: 'search_reference',
    columns: [['code', 'text'], ['target_type', 'text'], ['target_id', 'text'], ['url', 'text'], ['identifier_system', 'text'], ['identifier_value', 'text']],
    values: (r) => r.reference.map((x) => [x.code, x.targetType, x.targetId, x.url, x.identifierSystem, x.identifierValue]),
  },
  {
    table: 'search_uri',
    columns: [['code', 'text'], ['value', 'text']],
    values: (r) => r.uri.map((u) => [u.code, u.value]),
  },
  {
    table: 'search_composite',
    columns: [
      ['code', 'text'], ['c1_system', 'text'], ['c1_value', 'text'], ['c2_system', 'text'], ['c2_value', 'text'],
      ['c2_low', 'numeric'], ['c2_high', 'numeric'], ['c2_date_low', 'timestamptz'], ['c2_date_high', 'timestamptz'],
    ],
    values: (r) => r.composite.map((c) => [c.code, c.c1System, c.c1Value, c.c2System, c.c2Value, num(c.c2Low), num(c.c2High), c.c2DateLow, c.c2DateHigh]),
  },
];

// Infinity survives as the numeric literal text; NaN never reaches here (extraction drops it).
function num(n: number | null): string | null {
  if (n === null) return null;
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return String(n);
}

/**
 * Replaces the index rows of resource `rid`. resource undefined (deleted) removes them. Must run in
 * the transaction that wrote the resource row.
 */
export async function writeSearchIndex(
  tx: Queryable,
  rid: number,
  resource: Resource | Record<string, unknown> | undefined,
  maxRows?: number,
): Promise<void> {
  const params: unknown[] = [rid];
  const ctes = TABLES.map((t, i) => `d${i} AS (DELETE FROM ${t} WHERE rid = $1)`);
  const resourceType = resource ? (resource as { resourceType?: unknown }).resourceType : undefined;
  if (resource && typeof resourceType === 'string') {
    // Rows prepared off the event loop for a large resource, else extracted now (prepared-index.ts).
    const rows = indexValuesFor(resource, maxRows);
    for (const key of Object.keys(rows) as (keyof IndexRows)[]) {
      (rows[key] as { code: string }[]) = (rows[key] as { code: string }[]).filter((r) => !ROW_BACKED.has(r.code));
    }
    SPECS.forEach((spec, i) => {
      const values = spec.values(rows);
      if (values.length === 0) return;
      // $2 only once some table gets rows: PostgreSQL cannot type a parameter no statement uses.
      if (params.length === 1) params.push(resourceType);
      const arrays = spec.columns.map((_c, col) => {
        params.push(values.map((v) => v[col] ?? null));
        return `$${params.length}::${spec.columns[col]![1]}[]`;
      });
      const cols = spec.columns.map((c) => c[0]).join(', ');
      ctes.push(`i${i} AS (INSERT INTO ${spec.table} (rid, resource_type, ${cols}) SELECT $1::bigint, $2::text, * FROM unnest(${arrays.join(', ')}))`);
    });
  }
  // At most 2^8 distinct texts (which tables get rows), so preparing them is bounded.
  await tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, params, { prepare: true });
}

// Writes a resource's search index rows (see migrations/0002_search_index.sql) as parts of one SQL
// statement: the old rows of every table are deleted and the new ones inserted through unnest() of
// parallel arrays, one INSERT per table that gets rows. The version write (version-write.ts) puts these
// parts into the statement that also writes the resource row, so indexing costs no round trip of its own.
import type { Resource } from '@medplum/fhirtypes';
import { INDEX_FIELDS, indexColumnsOf } from '../../fhir/search/index-columns.js';
import { indexValuesFor } from '../../fhir/search/prepared-index.js';
import type { IndexRows } from '../../fhir/search/types.js';
import type { Queryable } from '../database.js';
import { SqlParams } from './sql-params.js';

export const INDEX_TABLES = ['search_token', 'search_string', 'search_date', 'search_number', 'search_quantity', 'search_reference', 'search_uri', 'search_composite'] as const;
/** The index tables, for statements over all of them (the bulk import's deletes). */
export const TABLES: readonly string[] = INDEX_TABLES;

// Served from the resource row itself (id, last_updated), so never stored twice.
export const ROW_BACKED = new Set(['_id', '_lastUpdated']);

export interface TableSpec {
  table: (typeof INDEX_TABLES)[number];
  /**
   * The kind of index row the table holds: column i holds field INDEX_FIELDS[kind][i] of its rows
   * (index-columns.ts, the one place that order is written; checked below when this module loads).
   */
  kind: keyof IndexRows;
  /** The table's SQL column names and types, in INDEX_FIELDS[kind] order. */
  columns: [name: string, sqlType: string][];
}

export const SPECS: TableSpec[] = [
  {
    table: 'search_token',
    kind: 'token',
    columns: [['code', 'text'], ['system', 'text'], ['value', 'text'], ['text_norm', 'text']],
  },
  {
    table: 'search_string',
    kind: 'string',
    columns: [['code', 'text'], ['value_norm', 'text'], ['value_exact', 'text']],
  },
  {
    table: 'search_date',
    kind: 'date',
    columns: [['code', 'text'], ['low', 'timestamptz'], ['high', 'timestamptz']],
  },
  {
    table: 'search_number',
    kind: 'number',
    columns: [['code', 'text'], ['low', 'numeric'], ['high', 'numeric']],
  },
  {
    table: 'search_quantity',
    kind: 'quantity',
    columns: [['code', 'text'], ['low', 'numeric'], ['high', 'numeric'], ['system', 'text'], ['unit_code', 'text'], ['unit', 'text']],
  },
  {
    table: 'search_reference',
    kind: 'reference',
    columns: [['code', 'text'], ['target_type', 'text'], ['target_id', 'text'], ['url', 'text'], ['identifier_system', 'text'], ['identifier_value', 'text']],
  },
  {
    table: 'search_uri',
    kind: 'uri',
    columns: [['code', 'text'], ['value', 'text']],
  },
  {
    table: 'search_composite',
    kind: 'composite',
    columns: [
      ['code', 'text'], ['c1_system', 'text'], ['c1_value', 'text'], ['c2_system', 'text'], ['c2_value', 'text'],
      ['c2_low', 'numeric'], ['c2_high', 'numeric'], ['c2_date_low', 'timestamptz'], ['c2_date_high', 'timestamptz'],
    ],
  },
];

for (const spec of SPECS) {
  if (INDEX_FIELDS[spec.kind].length !== spec.columns.length) throw new Error(`${spec.table}: ${spec.columns.length} columns for ${INDEX_FIELDS[spec.kind].length} fields`);
}

/** The tables with a numeric column: their values are sent as text (num), so their columns are rewritten. */
const NUMERIC_TABLES = new Set(SPECS.filter((spec) => spec.columns.some(([, type]) => type === 'numeric')));

// Infinity survives as the numeric literal text; NaN never reaches here (extraction drops it).
export function num(n: number | null): string | null {
  if (n === null) return null;
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return String(n);
}

/** The index rows of one resource, ready for SQL: only the tables that get rows, as column arrays. */
export interface IndexInsert {
  resourceType: string;
  tables: { spec: TableSpec; columns: unknown[][] }[];
}

/**
 * Extracts the index rows of `resource` (may throw 422 too-costly, see extractIndexValues). Undefined
 * when it has nothing to index (deleted, or not a resource).
 */
export function indexInsertOf(resource: Resource | Record<string, unknown> | undefined, maxRows?: number): IndexInsert | undefined {
  return indexOf(resource, maxRows)?.insert;
}

/**
 * indexInsertOf, and the extracted rows it was built from (the version write derives the members column
 * from them: membersFromIndex, so the compartment parameters are not evaluated a second time).
 */
export function indexOf(resource: Resource | Record<string, unknown> | undefined, maxRows?: number): { insert: IndexInsert; rows: IndexRows } | undefined {
  const resourceType = resource ? (resource as { resourceType?: unknown }).resourceType : undefined;
  if (!resource || typeof resourceType !== 'string') return undefined;
  // Rows prepared off the event loop for a large resource, else extracted now (prepared-index.ts).
  const rows = indexValuesFor(resource, maxRows);
  return { insert: insertOf(resourceType, rows), rows };
}

function insertOf(resourceType: string, rows: IndexRows): IndexInsert {
  const tables: IndexInsert['tables'] = [];
  const fragments = indexColumnsOf(rows);
  for (const spec of SPECS) {
    const fragment = fragments[spec.kind];
    if (!fragment) continue;
    if (!NUMERIC_TABLES.has(spec) && !fragment[0]!.some((c) => ROW_BACKED.has(c as string))) {
      // Nothing to leave out or convert: the fragment's arrays are the table's columns as they are.
      tables.push({ spec, columns: fragment });
      continue;
    }
    const columns = spec.columns.map(() => [] as unknown[]);
    if (appendIndexFragment(spec, fragment, columns) > 0) tables.push({ spec, columns });
  }
  return { resourceType, tables };
}

/**
 * Appends one kind's column fragment (indexColumnsOf: one array per INDEX_FIELDS field) to the table's
 * columns `into`, as its INSERT takes them: without the rows served from the resource row itself (_id,
 * _lastUpdated), numeric columns as text (num). Answers how many rows it appended. Used by the single
 * write (insertOf) and by the import's batch write (import-store.ts), so both store the same rows.
 */
export function appendIndexFragment(spec: TableSpec, fragment: readonly (readonly unknown[])[], into: unknown[][]): number {
  const codes = fragment[0]!;
  const keep = codes.some((c) => ROW_BACKED.has(c as string)) ? codes.map((c) => !ROW_BACKED.has(c as string)) : undefined;
  spec.columns.forEach(([, type], col) => {
    const target = into[col]!;
    const values = fragment[col]!;
    for (let r = 0; r < values.length; r++) {
      if (keep && !keep[r]) continue;
      const value = values[r] ?? null;
      target.push(type === 'numeric' ? num(value as number | null) : value);
    }
  });
  return keep ? keep.filter(Boolean).length : codes.length;
}

/**
 * CTEs deleting the index rows of the resource whose rid `rid` (an SQL expression) names; from every
 * table, since which ones held rows for the previous version is not known here.
 */
export function indexDeleteCtes(rid: string): string[] {
  return INDEX_TABLES.map((t, i) => `d${i} AS (DELETE FROM ${t} WHERE rid = ${rid})`);
}

/**
 * CTEs inserting `insert`'s rows for every row of CTE `source` (one row with column rid). The statement
 * text depends only on which tables get rows (at most 2^8 texts), so it can be a prepared statement.
 */
export function indexInsertCtes(insert: IndexInsert | undefined, source: string, p: SqlParams): string[] {
  if (!insert || insert.tables.length === 0) return [];
  const resourceType = p.add(insert.resourceType, 'text');
  return insert.tables.map(({ spec, columns }, i) => {
    const arrays = columns.map((values, col) => p.add(values, `${spec.columns[col]![1]}[]`));
    const cols = spec.columns.map((c) => c[0]).join(', ');
    return `i${i} AS (INSERT INTO ${spec.table} (rid, resource_type, ${cols}) SELECT s.rid, ${resourceType}, u.* FROM ${source} s, unnest(${arrays.join(', ')}) AS u)`;
  });
}

/**
 * Replaces the index rows of resource `rid` on its own (resource undefined = deleted: removes them).
 * Must run in the transaction that wrote the resource row. The write path does this inside its version
 * statement instead; this is for callers that write resource rows themselves.
 */
export async function writeSearchIndex(
  tx: Queryable,
  rid: number,
  resource: Resource | Record<string, unknown> | undefined,
  maxRows?: number,
): Promise<void> {
  const p = new SqlParams();
  const ridParam = p.add(rid, 'bigint');
  const ctes = [`r AS (SELECT ${ridParam} AS rid)`, ...indexDeleteCtes(ridParam), ...indexInsertCtes(indexInsertOf(resource, maxRows), 'r', p)];
  await tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, p.values, { prepare: true });
}

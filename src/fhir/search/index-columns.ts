// A resource's index rows transposed into columns, one array per field, per kind of row. This is how an
// import's prepare worker hands the rows to the main thread: a structured clone of a few arrays of
// strings and numbers costs far less than one of an object per row, and the storage appends the columns
// to a batch's per-table arrays without walking the rows again (docs/adr/0025, addendum).
import type { IndexRows } from './types.js';

type RowOf<K extends keyof IndexRows> = IndexRows[K][number];

/** The fields of each kind of row, in the order of the columns of its index table (code first). */
export const INDEX_FIELDS: { readonly [K in keyof IndexRows]: readonly (keyof RowOf<K>)[] } = {
  token: ['code', 'system', 'value', 'text'],
  string: ['code', 'normalized', 'exact'],
  date: ['code', 'low', 'high'],
  number: ['code', 'low', 'high'],
  quantity: ['code', 'low', 'high', 'system', 'unitCode', 'unit'],
  reference: ['code', 'targetType', 'targetId', 'url', 'identifierSystem', 'identifierValue'],
  uri: ['code', 'value'],
  composite: ['code', 'c1System', 'c1Value', 'c2System', 'c2Value', 'c2Low', 'c2High', 'c2DateLow', 'c2DateHigh'],
};

/**
 * Per kind with rows: one array per field of INDEX_FIELDS (an absent field is null), all of the same
 * length; column 0 holds the parameter codes. Kinds without rows are absent.
 */
export type IndexColumns = { [K in keyof IndexRows]?: unknown[][] };

export function indexColumnsOf(rows: IndexRows): IndexColumns {
  const out: IndexColumns = {};
  for (const kind of Object.keys(INDEX_FIELDS) as (keyof IndexRows)[]) {
    const list = rows[kind] as unknown as Record<string, unknown>[];
    if (list.length === 0) continue;
    const fields = INDEX_FIELDS[kind] as readonly string[];
    const columns: unknown[][] = [];
    for (const field of fields) {
      const column = new Array<unknown>(list.length);
      for (let r = 0; r < list.length; r++) column[r] = list[r]![field] ?? null;
      columns.push(column);
    }
    out[kind] = columns;
  }
  return out;
}

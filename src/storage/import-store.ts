// SQL of the bulk import (src/import): many resources per statement, written row for row as
// writeVersion writes them one at a time (resource, resource_version, search index, coordination facts,
// change notification), plus the import journal (migrations/0009_import_journal.sql).
import type { Resource } from '@medplum/fhirtypes';
import { FACT_TYPES } from '../coordination/facts.js';
import type { StoredVersion } from '../fhir/repository.js';
import { extractIndexValues } from '../fhir/search/extract.js';
import type { IndexRows } from '../fhir/search/types.js';
import type { BatchCommit, BatchVersion, FileProgress, ImportFile, ImportJournal, LineError } from '../import/store.js';
import { FactRows, INSERT_SELECT } from './coordination-facts.js';
import type { Database, Queryable } from './database.js';
import { membersColumn, writeMemberAccessMany } from './member-access.js';
import { ReadCache } from './read-cache.js';
import { LAST_UPDATED, lockKeyOf } from './resource-repository.js';
import { ROW_BACKED, SPECS, TABLES } from './search/write-index.js';

export async function lockKeys(q: Queryable, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  // ORDER BY the ordinality: the locks are taken in the caller's order (deadlock avoidance).
  await q.query(
    `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, ord) ORDER BY ord`,
    [keys.map(lockKeyOf)],
  );
}

export async function lockCurrentMany(q: Queryable, refs: readonly { resourceType: string; id: string }[]): Promise<Map<string, StoredVersion>> {
  const out = new Map<string, StoredVersion>();
  if (refs.length === 0) return out;
  const res = await q.query<{ resource_type: string; id: string; version_id: number; last_updated: string; deleted: boolean; content: string | null }>(
    `SELECT resource_type, id, version_id, ${LAST_UPDATED}, deleted, content
       FROM resource JOIN unnest($1::text[], $2::text[]) AS u(t, i) ON resource_type = u.t AND id = u.i
      ORDER BY rid FOR UPDATE OF resource`,
    [refs.map((r) => r.resourceType), refs.map((r) => r.id)],
  );
  for (const row of res.rows) {
    out.set(`${row.resource_type}/${row.id}`, {
      resourceType: row.resource_type,
      id: row.id,
      versionId: row.version_id,
      lastUpdated: row.last_updated,
      deleted: row.deleted,
      ...(row.content === null ? {} : { content: row.content }),
    });
  }
  return out;
}

export async function findReferencingMany(
  q: Queryable,
  targetIds: readonly string[],
  via: readonly { resourceType: string; code: string }[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (targetIds.length === 0 || via.length === 0) return out;
  // The same predicate as Tx.findReferencing (local Patient references), for every member at once.
  const res = await q.query<{ target_id: string; content: string }>(
    `SELECT s.target_id, r.content
       FROM search_reference s
       JOIN unnest($2::text[], $3::text[]) AS v(t, c) ON s.resource_type = v.t AND s.code = v.c
       JOIN resource r ON r.rid = s.rid AND NOT r.deleted
      WHERE s.target_type = 'Patient' AND s.target_id = ANY($1::text[]) AND s.url IS NULL
      GROUP BY s.target_id, r.rid, r.content
      ORDER BY s.target_id, r.rid`,
    [targetIds, via.map((v) => v.resourceType), via.map((v) => v.code)],
  );
  for (const row of res.rows) {
    let list = out.get(row.target_id);
    if (!list) out.set(row.target_id, (list = []));
    list.push(row.content);
  }
  return out;
}

function indexRowsOf(v: BatchVersion, maxRows: number | undefined): IndexRows {
  const rows = v.index ?? extractIndexValues(v.resource, maxRows);
  for (const key of Object.keys(rows) as (keyof IndexRows)[]) {
    (rows[key] as { code: string }[]) = (rows[key] as { code: string }[]).filter((r) => !ROW_BACKED.has(r.code));
  }
  return rows;
}

/**
 * Writes live versions (versionId 1 = new, else the successor of the current row, which the caller holds
 * locked) and returns the members whose access may have changed (ALL_MEMBERS for a PractitionerRole), as
 * writeVersion reports them for one version, so the caller drops this instance's cached decisions (the
 * embedded store has no change channel to do it). Rows of the search index and the fact projection are
 * exactly those writeVersion would write for each version on its own.
 */
export async function writeVersions(q: Queryable, versions: readonly BatchVersion[], maxIndexRows: number | undefined, changeChannel: string | undefined): Promise<string[]> {
  if (versions.length === 0) return [];
  const keyOf = (v: StoredVersion): string => ReadCache.key(v.resourceType, v.id);
  const rids = new Map<string, number>();
  // The members of each version (organization-scoped access, docs/adr/0008), comma-joined (ids never hold
  // a comma): unnest() cannot take an array of arrays of different lengths.
  const membersOf = new Map<StoredVersion, string | null>(versions.map((v) => [v.version, joinMembers(v.members !== undefined ? v.members : membersColumn(v.resource))]));
  const fresh = versions.filter((v) => v.version.versionId === 1).map((v) => v.version);
  const next = versions.filter((v) => v.version.versionId !== 1).map((v) => v.version);
  if (fresh.length > 0) {
    const contents = textArray(fresh.map(contentOf), 4);
    const res = await q.query<{ rid: string | number; resource_type: string; id: string }>(
      `INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content, members)
       SELECT t, i, 1, lu, false, c, string_to_array(m, ',') FROM unnest($1::text[], $2::text[], $3::timestamptz[], ${contents.sql}, $5::text[]) WITH ORDINALITY AS u(t, i, lu, c, m, ord)
        ORDER BY ord
       RETURNING rid, resource_type, id`,
      [fresh.map((v) => v.resourceType), fresh.map((v) => v.id), fresh.map((v) => v.lastUpdated), contents.value, fresh.map((v) => membersOf.get(v) ?? null)],
    );
    for (const row of res.rows) rids.set(`${row.resource_type}/${row.id}`, Number(row.rid));
  }
  const updated: number[] = [];
  if (next.length > 0) {
    const contents = textArray(next.map(contentOf), 5);
    const res = await q.query<{ rid: string | number; resource_type: string; id: string }>(
      `UPDATE resource r SET version_id = u.v, last_updated = u.lu, deleted = false, content = u.c, members = string_to_array(u.m, ',')
         FROM unnest($1::text[], $2::text[], $3::int4[], $4::timestamptz[], ${contents.sql}, $6::text[]) AS u(t, i, v, lu, c, m)
        WHERE r.resource_type = u.t AND r.id = u.i AND r.version_id = u.v - 1
       RETURNING r.rid, r.resource_type, r.id`,
      [next.map((v) => v.resourceType), next.map((v) => v.id), next.map((v) => v.versionId), next.map((v) => v.lastUpdated), contents.value, next.map((v) => membersOf.get(v) ?? null)],
    );
    if (res.rows.length !== next.length) throw new Error('a batch version is not the successor of the current one; lock the batch first');
    for (const row of res.rows) {
      rids.set(`${row.resource_type}/${row.id}`, Number(row.rid));
      updated.push(Number(row.rid));
    }
  }
  const ridOf = (v: StoredVersion): number => {
    const rid = rids.get(keyOf(v));
    if (rid === undefined) throw new Error(`no row written for ${keyOf(v)}`);
    return rid;
  };
  const all = versions.map((v) => v.version);
  // History in batch order, as one-by-one writes would have sequenced it. Each version is the row just
  // written (this statement sees it): its text is read there instead of being sent a second time.
  await q.query(
    `INSERT INTO resource_version (rid, resource_type, id, version_id, last_updated, method, content, members)
     SELECT r.rid, r.resource_type, r.id, r.version_id, r.last_updated, 'PUT', r.content, r.members
       FROM unnest($1::int8[]) WITH ORDINALITY AS u(rid, ord) JOIN resource r ON r.rid = u.rid
      ORDER BY u.ord`,
    [all.map(ridOf)],
  );
  // Who may see the members (enrolments, teams, orders, consents, roles), for the whole batch at once.
  const accessChanged = await writeMemberAccessMany(
    q,
    versions.map((v) => ({ rid: ridOf(v.version), resourceType: v.version.resourceType, resource: v.resource as unknown as Resource, isNew: v.version.versionId === 1 })),
    changeChannel,
  );
  await writeIndexRows(q, versions, ridOf, updated, maxIndexRows);
  await writeFacts(q, versions, ridOf, updated);
  if (changeChannel) await q.query('SELECT pg_notify($1, k) FROM unnest($2::text[]) AS k', [changeChannel, all.map(keyOf)]);
  return [...new Set(accessChanged)];
}

const joinMembers = (members: readonly string[] | null): string | null => (members ? members.join(',') : null);

function contentOf(v: StoredVersion): string {
  if (v.content === undefined) throw new Error(`the batch version ${v.resourceType}/${v.id} has no content`);
  return v.content;
}

/**
 * A text[] parameter of JSON texts (the largest of a batch): sent as one newline-joined string split by
 * PostgreSQL, which spares the driver escaping every element into an array literal. JSON text holds no
 * raw newline; anything else (an empty text) is sent as a plain array.
 */
function textArray(texts: readonly string[], param: number): { sql: string; value: string | readonly string[] } {
  if (texts.some((t) => t === '' || t.includes('\n'))) return { sql: `$${param}::text[]`, value: texts };
  return { sql: `string_to_array($${param}::text, E'\\n')`, value: texts.join('\n') };
}

async function writeIndexRows(q: Queryable, versions: readonly BatchVersion[], ridOf: (v: StoredVersion) => number, updated: readonly number[], maxRows: number | undefined): Promise<void> {
  const params: unknown[] = [];
  const ctes: string[] = [];
  if (updated.length > 0) {
    params.push(updated);
    TABLES.forEach((t, i) => ctes.push(`d${i} AS (DELETE FROM ${t} WHERE rid = ANY($1::int8[]))`));
  }
  const perTable = SPECS.map(() => ({ rid: [] as number[], type: [] as string[], values: [] as unknown[][] }));
  for (const v of versions) {
    const rows = indexRowsOf(v, maxRows);
    const rid = ridOf(v.version);
    SPECS.forEach((spec, i) => {
      const target = perTable[i]!;
      for (const row of spec.values(rows)) {
        target.rid.push(rid);
        target.type.push(v.version.resourceType);
        target.values.push(row);
      }
    });
  }
  SPECS.forEach((spec, i) => {
    const target = perTable[i]!;
    if (target.rid.length === 0) return;
    const arrays = [`$${params.push(target.rid)}::int8[]`, `$${params.push(target.type)}::text[]`];
    spec.columns.forEach(([, sqlType], col) => {
      params.push(target.values.map((row) => row[col] ?? null));
      arrays.push(`$${params.length}::${sqlType}[]`);
    });
    const cols = spec.columns.map((c) => c[0]).join(', ');
    ctes.push(`i${i} AS (INSERT INTO ${spec.table} (rid, resource_type, ${cols}) SELECT * FROM unnest(${arrays.join(', ')}))`);
  });
  if (ctes.length === 0) return;
  await q.query(`WITH ${ctes.join(',\n')} SELECT 1`, params);
}

async function writeFacts(q: Queryable, versions: readonly BatchVersion[], ridOf: (v: StoredVersion) => number, updated: readonly number[]): Promise<void> {
  const rows = new FactRows();
  const replaced: number[] = [];
  const updatedSet = new Set(updated);
  for (const v of versions) {
    if (!FACT_TYPES.has(v.version.resourceType)) continue;
    const rid = ridOf(v.version);
    rows.add(rid, v.resource as unknown as Resource);
    if (updatedSet.has(rid)) replaced.push(rid);
  }
  if (replaced.length > 0) await q.query('DELETE FROM coordination_fact WHERE rid = ANY($1::int8[])', [replaced]);
  if (rows.rid.length > 0) await q.query(INSERT_SELECT, rows.columns);
}

// ---- journal -----------------------------------------------------------------------------------------

interface FileRow {
  committed_offset: string | number;
  committed_lines: number;
  written: number;
  unchanged: number;
  rejected: number;
  completed_at: Date | string | null;
}

export async function recordBatch(q: Queryable, fileKey: string, batch: BatchCommit): Promise<void> {
  const errors = batch.errors;
  if (errors.length > 0) {
    await q.query(
      `INSERT INTO import_error (file_key, line, resource_type, resource_id, rule_id, conflicting, outcome)
       SELECT $1, l, t, i, r, CASE WHEN c IS NULL THEN NULL ELSE string_to_array(c, ' ') END, o
         FROM unnest($2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(l, t, i, r, c, o)
       ON CONFLICT (file_key, line) DO UPDATE SET resource_type = EXCLUDED.resource_type, resource_id = EXCLUDED.resource_id,
         rule_id = EXCLUDED.rule_id, conflicting = EXCLUDED.conflicting, outcome = EXCLUDED.outcome`,
      [
        fileKey,
        errors.map((e) => e.line),
        errors.map((e) => e.resourceType ?? null),
        errors.map((e) => e.id ?? null),
        errors.map((e) => e.ruleId ?? null),
        errors.map((e) => (e.conflicting?.length ? e.conflicting.join(' ') : null)),
        errors.map((e) => JSON.stringify(e.outcome)),
      ],
    );
  }
  // The offset only moves forward: a retried batch cannot move it back.
  const res = await q.query(
    `UPDATE import_file SET committed_offset = $2, committed_lines = $3, written = written + $4, unchanged = unchanged + $5,
            rejected = rejected + $6, updated_at = now()
      WHERE file_key = $1 AND committed_offset <= $2`,
    [fileKey, batch.endOffset, batch.endLine, batch.written, batch.unchanged, errors.length],
  );
  if (res.rowCount !== 1) throw new Error('the import journal moved past this batch (another import of the same file?)');
}

export class SqlImportJournal implements ImportJournal {
  constructor(private readonly db: Database) {}

  async begin(file: ImportFile): Promise<FileProgress> {
    await this.db.query(
      `INSERT INTO import_file (file_key, name, resource_type, size) VALUES ($1, $2, $3, $4) ON CONFLICT (file_key) DO NOTHING`,
      [file.fileKey, file.name, file.resourceType, file.size],
    );
    const res = await this.db.query<FileRow>(
      'SELECT committed_offset, committed_lines, written, unchanged, rejected, completed_at FROM import_file WHERE file_key = $1',
      [file.fileKey],
    );
    const row = res.rows[0]!;
    return {
      committedOffset: Number(row.committed_offset),
      committedLines: row.committed_lines,
      written: row.written,
      unchanged: row.unchanged,
      rejected: row.rejected,
      completed: row.completed_at !== null,
    };
  }

  async complete(fileKey: string): Promise<void> {
    await this.db.query('UPDATE import_file SET completed_at = COALESCE(completed_at, now()), updated_at = now() WHERE file_key = $1', [fileKey]);
  }

  async errors(fileKey: string): Promise<LineError[]> {
    const res = await this.db.query<{ line: number; resource_type: string | null; resource_id: string | null; rule_id: string | null; conflicting: string[] | null; outcome: string }>(
      'SELECT line, resource_type, resource_id, rule_id, conflicting, outcome FROM import_error WHERE file_key = $1 ORDER BY line',
      [fileKey],
    );
    return res.rows.map((r) => ({
      line: r.line,
      ...(r.resource_type === null ? {} : { resourceType: r.resource_type }),
      ...(r.resource_id === null ? {} : { id: r.resource_id }),
      ...(r.rule_id === null ? {} : { ruleId: r.rule_id }),
      ...(r.conflicting === null ? {} : { conflicting: r.conflicting }),
      outcome: JSON.parse(r.outcome) as LineError['outcome'],
    }));
  }
}

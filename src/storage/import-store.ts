// SQL of the bulk import (src/import): many resources per statement, written row for row as
// writeVersion writes them one at a time (resource, resource_version, search index, coordination facts,
// change notification), plus the import journal (migrations/0009_import_journal.sql).
import type { Resource } from '@medplum/fhirtypes';
import { FACT_TYPES } from '../coordination/facts.js';
import type { StoredVersion } from '../fhir/repository.js';
import { extractIndexValues } from '../fhir/search/extract.js';
import { indexColumnsOf } from '../fhir/search/index-columns.js';
import type { BatchCommit, BatchVersion, FileProgress, ImportFile, ImportJournal, LineError, ReferencingResource } from '../import/store.js';
import { FactRows } from './coordination-facts.js';
import type { Database, Queryable } from './database.js';
import { ACCESS_TYPES } from '../access/relationships.js';
import { membersColumn } from '../access/compartment.js';
import { ACCESS_CHANGE_PREFIX, ALL_MEMBERS, announceAccessChanges, rowColumns } from './member-access.js';
import { SqlParams } from './search/sql-params.js';
import { ReadCache } from './read-cache.js';
import { LAST_UPDATED, lockKeyOf } from './resource-repository.js';
import { appendIndexFragment, SPECS, TABLES } from './search/write-index.js';

export async function lockKeys(q: Queryable, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  // ORDER BY the ordinality: the locks are taken in the caller's order (deadlock avoidance).
  await q.query(
    `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, ord) ORDER BY ord`,
    [keys.map(lockKeyOf)],
  );
}

export function lockCurrentMany(q: Queryable, refs: readonly { resourceType: string; id: string }[]): Promise<Map<string, StoredVersion>> {
  return currentMany(q, refs, 'ORDER BY rid FOR UPDATE OF resource');
}

/** Current versions (deleted ones included) by `Type/id`, unlocked: what `read` answers, for many at once. */
export function readCurrentMany(q: Queryable, refs: readonly { resourceType: string; id: string }[]): Promise<Map<string, StoredVersion>> {
  return currentMany(q, refs, '');
}

async function currentMany(q: Queryable, refs: readonly { resourceType: string; id: string }[], tail: string): Promise<Map<string, StoredVersion>> {
  const out = new Map<string, StoredVersion>();
  if (refs.length === 0) return out;
  const res = await q.query<{ resource_type: string; id: string; version_id: number; last_updated: string; deleted: boolean; content: string | null }>(
    `SELECT resource_type, id, version_id, ${LAST_UPDATED}, deleted, content
       FROM resource JOIN unnest($1::text[], $2::text[]) AS u(t, i) ON resource_type = u.t AND id = u.i
      ${tail}`,
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
): Promise<Map<string, ReferencingResource[]>> {
  const out = new Map<string, ReferencingResource[]>();
  if (targetIds.length === 0 || via.length === 0) return out;
  // The same predicate as Tx.findReferencing (local Patient references), for every member at once.
  const res = await q.query<{ target_id: string; resource_type: string; id: string; content: string }>(
    `SELECT s.target_id, r.resource_type, r.id, r.content
       FROM search_reference s
       JOIN unnest($2::text[], $3::text[]) AS v(t, c) ON s.resource_type = v.t AND s.code = v.c
       JOIN resource r ON r.rid = s.rid AND NOT r.deleted
      WHERE s.target_type = 'Patient' AND s.target_id = ANY($1::text[]) AND s.url IS NULL
      GROUP BY s.target_id, r.rid, r.resource_type, r.id, r.content
      ORDER BY s.target_id, r.rid`,
    [targetIds, via.map((v) => v.resourceType), via.map((v) => v.code)],
  );
  for (const row of res.rows) {
    let list = out.get(row.target_id);
    if (!list) out.set(row.target_id, (list = []));
    list.push({ resourceType: row.resource_type, id: row.id, content: row.content });
  }
  return out;
}

/**
 * Writes live versions (versionId 1 = new, else the successor of the current row, which the caller holds
 * locked) in one statement, and resolves to the members whose access may have changed (ALL_MEMBERS for a
 * PractitionerRole), as writeVersion reports them for one version, so the caller drops this instance's
 * cached decisions (the embedded store has no change channel to do it). Rows of the search index, the
 * fact projection and the access projection are exactly those writeVersion would write for each version
 * on its own.
 *
 * The statement is sent at once and nothing of the client waits for its result: the rows' rids are
 * joined in SQL (by the version's position in the batch), so the caller can go on judging the next lines
 * while PostgreSQL writes these. Its sub-statements see one snapshot: the deletes of an updated row's
 * index, facts and access rows never remove the rows inserted here. The same id must not occur twice
 * (the caller writes the earlier version first, in a statement of its own).
 */
export function writeVersions(q: Queryable, versions: readonly BatchVersion[], maxIndexRows: number | undefined, changeChannel: string | undefined): Promise<string[]> {
  if (versions.length === 0) return Promise.resolve([]);
  const all = versions.map((v) => v.version);
  const p = new SqlParams();
  const ords = versions.map((_v, i) => i + 1);
  const contents = textArray(all.map(contentOf), p);
  // The members of each version (organization-scoped access, docs/adr/0008), comma-joined (ids never hold
  // a comma): unnest() cannot take an array of arrays of different lengths.
  const members = versions.map((v) => joinMembers(v.members !== undefined ? v.members : membersColumn(v.resource)));
  const updates = all.filter((v) => v.versionId !== 1).length;
  const ctes = [
    `u AS MATERIALIZED (SELECT * FROM unnest(${p.add(all.map((v) => v.resourceType), 'text[]')}, ${p.add(all.map((v) => v.id), 'text[]')}, ${p.add(all.map((v) => v.versionId), 'int4[]')},
        ${p.add(all.map((v) => v.lastUpdated), 'timestamptz[]')}, ${contents}, ${p.add(members, 'text[]')}) WITH ORDINALITY AS u(t, i, v, lu, c, m, ord))`,
    `ins AS (INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content, members)
        SELECT t, i, 1, lu, false, c, string_to_array(m, ',') FROM u WHERE v = 1 ORDER BY ord
       RETURNING rid, resource_type, id)`,
    `upd AS (UPDATE resource r SET version_id = u.v, last_updated = u.lu, deleted = false, content = u.c, members = string_to_array(u.m, ',')
        FROM u WHERE u.v <> 1 AND r.resource_type = u.t AND r.id = u.i AND r.version_id = u.v - 1
       RETURNING r.rid, u.ord, u.t)`,
    `w AS (SELECT ins.rid, u.ord, u.t FROM ins JOIN u ON u.t = ins.resource_type AND u.i = ins.id UNION ALL SELECT rid, ord, t FROM upd)`,
    // History in batch order, as one-by-one writes would have sequenced it.
    `h AS (INSERT INTO resource_version (rid, resource_type, id, version_id, last_updated, method, content, members)
        SELECT w.rid, u.t, u.i, u.v, u.lu, 'PUT', u.c, string_to_array(u.m, ',') FROM w JOIN u ON u.ord = w.ord ORDER BY w.ord)`,
  ];
  if (updates > 0) TABLES.forEach((t, i) => ctes.push(`d${i} AS (DELETE FROM ${t} WHERE rid IN (SELECT rid FROM upd))`));
  ctes.push(...indexCtes(versions, ords, maxIndexRows, p));
  ctes.push(...factCtes(versions, ords, updates > 0, p));
  const access = accessCtes(versions, ords, changeChannel, p);
  ctes.push(...access.ctes);
  const columns = [`${access.changed ?? 'NULL::text[]'} AS access_changed`];
  if (access.notified) columns.push(`${access.notified} AS access_notified`);
  if (changeChannel) {
    // Delivered at commit to every instance's read cache; a PractitionerRole changes every access decision involving it.
    const payloads = [...all.map((v) => ReadCache.key(v.resourceType, v.id)), ...(all.some((v) => v.resourceType === 'PractitionerRole') ? [ACCESS_CHANGE_PREFIX + ALL_MEMBERS] : [])];
    ctes.push(`n AS (SELECT pg_notify(${p.add(changeChannel, 'text')}, k) FROM unnest(${p.add(payloads, 'text[]')}) AS k)`);
    columns.push('(SELECT count(*) FROM n) AS notified');
  }
  // A version that is not the successor of the current row fails the statement itself (its transaction's
  // COMMIT may be on the way behind it); built from upd, so the planner cannot evaluate the cast early.
  const expected = p.add(updates, 'int8');
  columns.push(`CASE WHEN (SELECT count(*) FROM upd) = ${expected} THEN 0
     ELSE ('only ' || (SELECT count(*) FROM upd) || ' of ' || ${expected} || ' batch versions are successors of the current row; lock the batch first')::int END AS stale`);
  const statement = q.query<{ access_changed: string[] | null }>(`WITH ${ctes.join(',\n')}\nSELECT ${columns.join(', ')}`, p.values);
  const roles = all.some((v) => v.resourceType === 'PractitionerRole') ? [ALL_MEMBERS] : [];
  return statement.then((res) => [...new Set([...roles, ...(res.rows[0]?.access_changed ?? [])])]);
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
function textArray(texts: readonly string[], p: SqlParams): string {
  if (texts.some((t) => t === '' || t.includes('\n'))) return p.add(texts, 'text[]');
  return `string_to_array(${p.add(texts.join('\n'), 'text')}, E'\\n')`;
}

/** Rows of many versions for one table: the version's position in the batch (`ord`) and the columns. */
function rowsCte(name: string, into: string, select: string, columns: readonly { name: string; type: string; values: unknown[] }[], ords: number[], p: SqlParams, returning = ''): string {
  const arrays = [p.add(ords, 'int4[]'), ...columns.map((c) => p.add(c.values, `${c.type}[]`))];
  const names = ['ord', ...columns.map((c) => c.name)];
  return `${name} AS (${into} SELECT ${select} FROM unnest(${arrays.join(', ')}) AS x(${names.join(', ')}) JOIN w ON w.ord = x.ord${returning})`;
}

function indexCtes(versions: readonly BatchVersion[], ords: readonly number[], maxRows: number | undefined, p: SqlParams): string[] {
  // Per table, the batch's columns: each version's column fragments appended as they are (a worker sent
  // them so; docs/adr/0025, addendum), without the rows served from the resource row itself.
  const perTable = SPECS.map((spec) => ({ ord: [] as number[], columns: spec.columns.map(() => [] as unknown[]) }));
  versions.forEach((v, n) => {
    const fragments = v.indexColumns ?? indexColumnsOf(extractIndexValues(v.resource, maxRows));
    SPECS.forEach((spec, i) => {
      const fragment = fragments[spec.kind];
      if (!fragment) return;
      const target = perTable[i]!;
      const added = appendIndexFragment(spec, fragment, target.columns);
      for (let r = 0; r < added; r++) target.ord.push(ords[n]!);
    });
  });
  const ctes: string[] = [];
  SPECS.forEach((spec, i) => {
    const target = perTable[i]!;
    if (target.ord.length === 0) return;
    const columns = spec.columns.map(([, type], col) => ({ name: `c${col}`, type, values: target.columns[col]! }));
    const cols = spec.columns.map((c) => c[0]).join(', ');
    ctes.push(rowsCte(`i${i}`, `INSERT INTO ${spec.table} (rid, resource_type, ${cols})`, `w.rid, w.t, ${columns.map((c) => `x.${c.name}`).join(', ')}`, columns, target.ord, p));
  });
  return ctes;
}

function factCtes(versions: readonly BatchVersion[], ords: readonly number[], updates: boolean, p: SqlParams): string[] {
  // FactRows keyed by the version's position in the batch instead of a rid (joined to w's rid in SQL).
  const rows = new FactRows();
  versions.forEach((v, n) => {
    if (FACT_TYPES.has(v.version.resourceType)) rows.add(ords[n]!, v.resource as unknown as Resource);
  });
  const ctes = updates ? ['fd AS (DELETE FROM coordination_fact WHERE rid IN (SELECT rid FROM upd))'] : [];
  if (rows.rid.length === 0) return ctes;
  const columns = [
    { name: 'member_id', type: 'text', values: rows.member },
    { name: 'kind', type: 'text', values: rows.kind },
    { name: 'key', type: 'text', values: rows.key },
    { name: 'org', type: 'text', values: rows.org },
    { name: 'lo', type: 'int8', values: rows.lo },
    { name: 'hi', type: 'int8', values: rows.hi },
  ];
  ctes.push(rowsCte('fi', 'INSERT INTO coordination_fact (rid, member_id, kind, key, org, during)', "w.rid, x.member_id, x.kind, x.key, x.org, int8range(x.lo, x.hi, '[)')", columns, rows.rid, p));
  return ctes;
}

/**
 * Who may see the members (enrolments, teams, orders, consents: member-access.ts accessRows), for the
 * whole batch: the rows of an updated row are replaced, and the members whose access may have changed are
 * announced on the channel at commit (other instances drop their cached decisions).
 */
function accessCtes(versions: readonly BatchVersion[], ords: readonly number[], channel: string | undefined, p: SqlParams): { ctes: string[]; changed?: string; notified?: string } {
  const replaced: number[] = [];
  const rows = { ord: [] as number[], member: [] as string[], actor: [] as string[], deny: [] as boolean[], lo: [] as (number | null)[], hi: [] as (number | null)[] };
  versions.forEach((v, n) => {
    if (!ACCESS_TYPES.has(v.version.resourceType)) return;
    if (v.version.versionId !== 1) replaced.push(ords[n]!);
    const [member, actor, deny, lo, hi] = rowColumns(v.resource as unknown as Resource);
    for (let k = 0; k < member.length; k++) rows.ord.push(ords[n]!);
    rows.member.push(...member);
    rows.actor.push(...actor);
    rows.deny.push(...deny);
    rows.lo.push(...lo);
    rows.hi.push(...hi);
  });
  if (replaced.length === 0 && rows.ord.length === 0) return { ctes: [] };
  const ctes = [
    `ag AS (DELETE FROM member_access WHERE rid IN (SELECT rid FROM w WHERE ord = ANY(${p.add(replaced, 'int4[]')})) RETURNING member_id)`,
    rowsCte(
      'ai',
      'INSERT INTO member_access (rid, member_id, actor, deny, during)',
      "w.rid, x.member_id, x.actor, x.deny, int8range(x.lo, x.hi, '[)')",
      [
        { name: 'member_id', type: 'text', values: rows.member },
        { name: 'actor', type: 'text', values: rows.actor },
        { name: 'deny', type: 'boolean', values: rows.deny },
        { name: 'lo', type: 'int8', values: rows.lo },
        { name: 'hi', type: 'int8', values: rows.hi },
      ],
      rows.ord,
      p,
      ' RETURNING member_id',
    ),
    'ac AS (SELECT member_id FROM ag UNION SELECT member_id FROM ai)',
  ];
  return announceAccessChanges(ctes, channel, p);
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

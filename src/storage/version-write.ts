// The one statement that stores a version: the current row (insert for version 1, else update of the
// previous version), the history row, the search index rows, the coordination facts and the change
// notification, as data-modifying CTEs of a single statement. Before, these were 4-5 statements and as
// many round trips per write inside the transaction (docs/adr/0013). The sub-statements see one
// snapshot, so the index and fact deletes only remove the previous version's rows, never the new ones.
import type { Resource } from '@medplum/fhirtypes';
import type { StoredVersion, WriteMethod } from '../fhir/repository.js';
import { factCtes } from './coordination-facts.js';
import { indexDeleteCtes, indexInsertCtes, type IndexInsert } from './search/write-index.js';
import { SqlParams } from './search/sql-params.js';
import { ACCESS_CHANGE_PREFIX, ALL_MEMBERS, accessCtes } from './member-access.js';

export interface VersionWrite {
  version: StoredVersion;
  method: WriteMethod;
  /** The stored resource as an object (absent for a delete): facts are derived from it. */
  resource?: Record<string, unknown> | undefined;
  /** Its search index rows (indexInsertOf), absent for a delete. */
  index?: IndexInsert | undefined;
  /**
   * The members whose compartment the version is in (organization-scoped access, docs/adr/0008); null
   * for a deletion, which keeps the members of the version it deletes.
   */
  members: string[] | null;
  /** pg_notify(channel, payload) at commit (PostgreSQL: other instances' read caches). */
  notify?: { channel: string; payload: string } | undefined;
}

/** The one result row of a version write (the statement fails when the previous version was not current). */
export interface VersionWriteRow {
  rid: number;
  /** Members whose access rows changed (null: the type carries none). */
  access_changed: string[] | null;
}

/**
 * SQL and parameters of a version write; its one result row (VersionWriteRow) carries the resource's rid
 * and the members whose access changed; it fails (22P02) when the previous version was not current. The access rows are written by the same
 * statement (member-access.ts accessCtes), so a write is one statement whatever its type.
 */
export function versionWriteStatement(w: VersionWrite): { sql: string; params: unknown[] } {
  const { version: v, method } = w;
  const p = new SqlParams();
  const type = p.add(v.resourceType, 'text');
  const id = p.add(v.id, 'text');
  const versionId = p.add(v.versionId, 'int');
  const lastUpdated = p.add(v.lastUpdated, 'timestamptz');
  const deleted = p.add(v.deleted, 'boolean');
  const content = p.add(v.content ?? null, 'text');
  const members = p.add(w.members, 'text[]');
  const isNew = v.versionId === 1;
  const ctes = isNew
    ? // A concurrent insert of the same id raises a unique violation; the repository retries the
      // transaction, which then sees the row through lockCurrent.
      [`r AS (INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content, members)
        VALUES (${type}, ${id}, ${versionId}, ${lastUpdated}, ${deleted}, ${content}, ${members}) RETURNING rid, members)`]
    : [
        `r AS (UPDATE resource SET version_id = ${versionId}, last_updated = ${lastUpdated}, deleted = ${deleted}, content = ${content},
                members = CASE WHEN ${deleted} THEN members ELSE ${members} END
          WHERE resource_type = ${type} AND id = ${id} AND version_id = ${versionId} - 1 RETURNING rid, members)`,
        ...indexDeleteCtes('(SELECT rid FROM r)'),
      ];
  ctes.push(`h AS (INSERT INTO resource_version (rid, resource_type, id, version_id, last_updated, method, content, members)
    SELECT rid, ${type}, ${id}, ${versionId}, ${lastUpdated}, ${p.add(method, 'text')}, ${content}, members FROM r)`);
  ctes.push(...indexInsertCtes(w.index, 'r', p));
  ctes.push(...factCtes(v.resourceType, v.deleted ? undefined : (w.resource as Resource | undefined), isNew, 'r', p));
  const access = accessCtes(v.resourceType, v.deleted ? undefined : (w.resource as Resource | undefined), isNew, 'r', w.notify?.channel, p);
  ctes.push(...access.ctes);
  // A PractitionerRole changes every access decision involving it: announced as all members.
  const payloads = w.notify ? [w.notify.payload, ...(v.resourceType === 'PractitionerRole' ? [ACCESS_CHANGE_PREFIX + ALL_MEMBERS] : [])] : [];
  // A plain SELECT in WITH runs only when referenced, hence the counts below.
  if (w.notify) ctes.push(`n AS (SELECT pg_notify(${p.add(w.notify.channel, 'text')}, u.payload) FROM r, unnest(${p.add(payloads, 'text[]')}) AS u(payload))`);
  // The previous version not current (no row updated) fails the statement itself, and so the
  // transaction: its COMMIT may already be on the way, sent behind it (pipelined), when the result comes
  // back. The one row always exists (LEFT JOIN); without r's row its rid is a text that is no number.
  // (Built from r.rid, so the planner cannot evaluate the cast ahead of time.)
  const stale = `'version ' || (${versionId} - 1) || ' of ' || ${type} || '/' || ${id} || ' is not current; lock it first'`;
  const columns = [`coalesce(r.rid::text, ${stale})::bigint AS rid`, `${access.changed ?? 'NULL::text[]'} AS access_changed`];
  if (w.notify) columns.push('(SELECT count(*) FROM n) AS notified');
  if (access.notified) columns.push(`${access.notified} AS access_notified`);
  return { sql: `WITH ${ctes.join(',\n')}\nSELECT ${columns.join(', ')} FROM (SELECT) AS one LEFT JOIN r ON true`, params: p.values };
}

// SQL for organization-scoped access (migrations/0005_member_access.sql, docs/adr/0008): the member_access
// projection written with every write, the visibility predicate every query adds for a client acting
// for an organization, and the per-member check behind reads by id.
import type { Resource } from '@medplum/fhirtypes';
import type { AccessFilter } from '../access/viewer.js';
import { organizationId } from '../access/viewer.js';
import { membersColumn, subscriptionKey } from '../access/compartment.js';
import { ACCESS_TYPES, ACCESS_VERSION, accessRows } from '../access/relationships.js';
import type { Range } from '../coordination/period.js';
import type { Database, Queryable } from './database.js';
import { SqlParams } from './search/sql-params.js';

const PREPARED = { prepare: true } as const;

const lower = (r: Range): number | null => (Number.isFinite(r.start) ? r.start : null);
const upper = (r: Range): number | null => (Number.isFinite(r.end) ? r.end : null);

/** Change-channel payload prefix: `access:<member id>`, or `access:*` when every decision may change. */
export const ACCESS_CHANGE_PREFIX = 'access:';
export const ALL_MEMBERS = '*';

const INSERT_SELECT = `INSERT INTO member_access (rid, member_id, actor, deny, during)
  SELECT $1::bigint, u.member_id, u.actor, u.deny, int8range(u.lo, u.hi, '[)')
    FROM unnest($2::text[], $3::text[], $4::boolean[], $5::int8[], $6::int8[]) AS u(member_id, actor, deny, lo, hi)`;

/** The access rows of a resource as parallel columns: member ids, actors, denies, range bounds. */
export function rowColumns(resource: Resource | undefined): [string[], string[], boolean[], (number | null)[], (number | null)[]] {
  const rows = accessRows(resource);
  return [rows.map((r) => r.memberId), rows.map((r) => r.actor), rows.map((r) => r.deny), rows.map((r) => lower(r.range)), rows.map((r) => upper(r.range))];
}

/**
 * The access rows of a version as data-modifying CTEs of its version-write statement (version-write.ts),
 * instead of a statement of their own: `ac` yields the members whose access may have changed (rows
 * removed or added), and with a channel each of them is announced at commit. ridCte names the CTE that
 * yields the resource row's rid. Returns no CTEs (and changed = undefined) for types that never carry
 * access rows and for a new row without any; a PractitionerRole changes every decision involving it,
 * which the caller announces as ALL_MEMBERS.
 */
export function accessCtes(
  resourceType: string,
  resource: Resource | undefined,
  isNew: boolean,
  ridCte: string,
  channel: string | undefined,
  p: SqlParams,
): { ctes: string[]; changed?: string; notified?: string } {
  if (!ACCESS_TYPES.has(resourceType)) return { ctes: [] };
  const [members, actors, denies, los, his] = rowColumns(resource);
  if (isNew && members.length === 0) return { ctes: [] };
  const ctes: string[] = [];
  // A new rid has no rows yet; the delete sees the statement's snapshot, so never the rows inserted here.
  if (!isNew) ctes.push(`ag AS (DELETE FROM member_access WHERE rid = (SELECT rid FROM ${ridCte}) RETURNING member_id)`);
  ctes.push(`ai AS (INSERT INTO member_access (rid, member_id, actor, deny, during)
    SELECT x.rid, u.member_id, u.actor, u.deny, int8range(u.lo, u.hi, '[)') FROM ${ridCte} x,
      unnest(${p.add(members, 'text[]')}, ${p.add(actors, 'text[]')}, ${p.add(denies, 'boolean[]')}, ${p.add(los, 'int8[]')}, ${p.add(his, 'int8[]')}) AS u(member_id, actor, deny, lo, hi)
    RETURNING member_id)`);
  ctes.push(`ac AS (${isNew ? '' : 'SELECT member_id FROM ag UNION '}SELECT member_id FROM ai)`);
  return announceAccessChanges(ctes, channel, p);
}

/**
 * Completes access CTEs whose `ac` yields the members whose access may have changed: the statement's
 * column that returns them and, with a channel, their announcement at commit.
 */
export function announceAccessChanges(ctes: string[], channel: string | undefined, p: SqlParams): { ctes: string[]; changed: string; notified?: string } {
  if (!channel) return { ctes, changed: 'ARRAY(SELECT member_id FROM ac)' };
  ctes.push(`an AS (SELECT pg_notify(${p.add(channel, 'text')}, '${ACCESS_CHANGE_PREFIX}' || member_id) FROM ac)`);
  // A plain SELECT in WITH runs only when referenced: the count makes the announcements happen.
  return { ctes, changed: 'ARRAY(SELECT member_id FROM ac)', notified: '(SELECT count(*) FROM an)' };
}

/**
 * Grants a Subscription's key to its owner, once (the owner never changes). Runs in the transaction that
 * stores the Subscription, after its row was written.
 */
export async function grantSubscriptionOwner(q: Queryable, id: string, organization: string): Promise<void> {
  await q.query(
    `INSERT INTO member_access (rid, member_id, actor, deny, during)
     SELECT r.rid, $2, $3, false, '(,)'::int8range FROM resource r
      WHERE r.resource_type = 'Subscription' AND r.id = $1 AND NOT EXISTS (SELECT 1 FROM member_access m WHERE m.rid = r.rid)`,
    [id, subscriptionKey(id), organization],
    PREPARED,
  );
}


/**
 * The viewer's actors: its organization and the PractitionerRoles working for it (an uncorrelated
 * subquery: PostgreSQL computes it once per statement).
 */
function actorsSql(filter: AccessFilter, p: SqlParams): string {
  return `ARRAY(SELECT ${p.add(filter.organization, 'text')} UNION ALL
    SELECT 'PractitionerRole/' || pr.id FROM search_reference pri JOIN resource pr ON pr.rid = pri.rid
     WHERE pri.resource_type = 'PractitionerRole' AND pri.code = 'organization' AND pri.target_type = 'Organization'
       AND pri.target_id = ${p.add(organizationId(filter), 'text')} AND NOT pr.deleted)`;
}

/** SQL: the member id expression names a member the viewer sees now. */
function memberVisibleSql(member: string, actors: string, now: string): string {
  return `(EXISTS (SELECT 1 FROM member_access g WHERE g.member_id = ${member} AND g.actor = ANY(${actors}) AND NOT g.deny AND g.during @> ${now})
    AND NOT EXISTS (SELECT 1 FROM member_access d WHERE d.member_id = ${member} AND d.actor = ANY(${actors}) AND d.deny AND d.during @> ${now}))`;
}

/**
 * SQL: the row whose `members` column is membersExpr is visible to the viewer: it is in no member's
 * compartment, or the viewer sees every member it belongs to.
 */
export function visibleSql(filter: AccessFilter, membersExpr: string, p: SqlParams): string {
  const actors = actorsSql(filter, p);
  const now = p.add(filter.now, 'bigint');
  return `(${membersExpr} IS NULL OR NOT EXISTS (SELECT 1 FROM unnest(${membersExpr}) AS vm(id) WHERE NOT ${memberVisibleSql('vm.id', actors, now)}))`;
}

export interface MemberDecision {
  memberId: string;
  visible: boolean;
  /** Epoch ms of the next period bound of the member's rows for this viewer: the decision may change then. */
  until: number;
}

/** Whether the viewer sees each member now, and until when that answer holds (for caching). */
export async function decideMembers(q: Queryable, filter: AccessFilter, members: readonly string[]): Promise<MemberDecision[]> {
  const p = new SqlParams();
  const actors = actorsSql(filter, p);
  const now = p.add(filter.now, 'bigint');
  const list = p.add(members, 'text[]');
  const res = await q.query<{ id: string; visible: boolean; next_change: string | number | null }>(
    `SELECT u.id, ${memberVisibleSql('u.id', actors, now)} AS visible,
            (SELECT min(b.v) FROM member_access x CROSS JOIN LATERAL (VALUES (lower(x.during)), (upper(x.during))) AS b(v)
              WHERE x.member_id = u.id AND x.actor = ANY(${actors}) AND b.v > ${now}) AS next_change
       FROM unnest(${list}) AS u(id)`,
    p.values,
    PREPARED,
  );
  return res.rows.map((r) => ({ memberId: r.id, visible: r.visible, until: r.next_change === null ? Infinity : Number(r.next_change) }));
}

const ACCESS_LOCK_KEY = 0x0c0c0a5; // beside coordination-facts.ts's key
const REBUILD_BATCH = 1000;
const joinMembers = (m: string[] | null): string | null => (m ? m.join(',') : null); // ids never hold a comma

/**
 * Brings both projections (the `members` columns and member_access) up to ACCESS_VERSION from the stored
 * versions, in one transaction holding the tables against writers. Returns the number of versions
 * projected, or undefined when nothing was to do.
 */
export async function ensureAccessProjection(db: Database): Promise<number | undefined> {
  return db.withSessionLock(ACCESS_LOCK_KEY, async () => {
    const state = await db.query<{ version: number }>('SELECT version FROM access_state');
    if ((state.rows[0]?.version ?? 0) >= ACCESS_VERSION) return undefined;
    return db.transaction(async (tx) => {
      await tx.query('LOCK TABLE resource, resource_version, member_access IN SHARE ROW EXCLUSIVE MODE');
      // Subscription owners are not derived from stored resources: their grants stay (also a deleted one's).
      await tx.query(`DELETE FROM member_access WHERE member_id NOT LIKE 'Subscription/%'`);
      let projected = 0;
      let after = 0;
      for (;;) {
        const batch = await tx.query<{ seq: number | string; content: string }>(
          `SELECT seq, content FROM resource_version WHERE content IS NOT NULL AND seq > $1 ORDER BY seq LIMIT ${REBUILD_BATCH}`,
          [after],
        );
        const seqs = batch.rows.map((r) => Number(r.seq));
        const members = batch.rows.map((r) => joinMembers(membersColumn(JSON.parse(r.content) as Resource)));
        if (seqs.length > 0) {
          await tx.query(
            `UPDATE resource_version v SET members = string_to_array(u.m, ',') FROM unnest($1::int8[], $2::text[]) AS u(seq, m) WHERE v.seq = u.seq`,
            [seqs, members],
          );
        }
        projected += seqs.length;
        if (batch.rows.length < REBUILD_BATCH) break;
        after = seqs[seqs.length - 1]!;
      }
      // A deletion belongs to the members of the version it deleted; the current row to its version's.
      await tx.query(`UPDATE resource_version v SET members = p.members FROM resource_version p
                       WHERE v.content IS NULL AND p.rid = v.rid AND p.version_id = v.version_id - 1`);
      await tx.query(`UPDATE resource r SET members = v.members FROM resource_version v WHERE v.rid = r.rid AND v.version_id = r.version_id`);
      after = 0;
      for (;;) {
        const batch = await tx.query<{ rid: number | string; content: string }>(
          `SELECT rid, content FROM resource WHERE resource_type = ANY($1::text[]) AND NOT deleted AND rid > $2 ORDER BY rid LIMIT ${REBUILD_BATCH}`,
          [[...ACCESS_TYPES], after],
        );
        for (const row of batch.rows) await tx.query(INSERT_SELECT, [Number(row.rid), ...rowColumns(JSON.parse(row.content) as Resource)]);
        if (batch.rows.length < REBUILD_BATCH) break;
        after = Number(batch.rows[batch.rows.length - 1]!.rid);
      }
      // Subscription owners are recorded with their delivery state (migration 0007), not in the resource.
      await tx.query(`INSERT INTO member_access (rid, member_id, actor, deny, during)
                      SELECT r.rid, 'Subscription/' || r.id, c.organization, false, '(,)'::int8range
                        FROM subscription_channel c JOIN resource r ON r.resource_type = 'Subscription' AND r.id = c.subscription_id
                       WHERE c.organization IS NOT NULL AND NOT EXISTS (SELECT 1 FROM member_access m WHERE m.rid = r.rid)`);
      await tx.query('UPDATE access_state SET version = $1', [ACCESS_VERSION]);
      return projected;
    });
  });
}

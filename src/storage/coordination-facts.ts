// SQL for the coordination fact projection (migrations/0003_coordination_facts.sql): written with every
// write of a CareTeam, ServiceRequest or CarePlan, queried by the coordination rules inside the write's
// transaction, rebuilt from the stored resources when the derivation changes (FACTS_VERSION).
import type { Resource } from '@medplum/fhirtypes';
import { FACT_TYPES, FACTS_VERSION, memberFactsOf } from '../coordination/facts.js';
import type { FactQuery } from '../coordination/facts.js';
import { isEmpty } from '../coordination/period.js';
import type { Range } from '../coordination/period.js';
import type { Database, Queryable } from './database.js';
import type { SqlParams } from './search/sql-params.js';

const PREPARED = { prepare: true } as const;

/** Range bounds as int8range takes them: NULL = unbounded. */
const lower = (r: Range): number | null => (Number.isFinite(r.start) ? r.start : null);
const upper = (r: Range): number | null => (Number.isFinite(r.end) ? r.end : null);

/** Parallel arrays of fact rows, as the unnest() inserts below take them. */
export class FactRows {
  readonly rid: number[] = [];
  readonly member: string[] = [];
  readonly kind: string[] = [];
  readonly key: string[] = [];
  readonly org: (string | null)[] = [];
  readonly lo: (number | null)[] = [];
  readonly hi: (number | null)[] = [];

  add(rid: number, resource: Resource | undefined): void {
    const projected = memberFactsOf(resource);
    for (const f of projected?.facts ?? []) {
      this.rid.push(rid);
      this.member.push(projected?.memberId ?? '');
      this.kind.push(f.kind);
      this.key.push(f.key);
      this.org.push(f.org ?? null);
      this.lo.push(lower(f.range));
      this.hi.push(upper(f.range));
    }
  }

  get columns(): unknown[] {
    return [this.rid, this.member, this.kind, this.key, this.org, this.lo, this.hi];
  }
}

export const INSERT_SELECT = `INSERT INTO coordination_fact (rid, member_id, kind, key, org, during)
  SELECT u.rid, u.member_id, u.kind, u.key, u.org, int8range(u.lo, u.hi, '[)')
    FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[]) AS u(rid, member_id, kind, key, org, lo, hi)`;

/**
 * CTEs replacing the facts of the resource row that CTE `source` (one row with column rid) names
 * (resource undefined = deleted), for the version write's statement. None at all for types without
 * facts, and no delete for a new row (it has none yet).
 */
export function factCtes(resourceType: string, resource: Resource | undefined, isNew: boolean, source: string, p: SqlParams): string[] {
  if (!FACT_TYPES.has(resourceType)) return [];
  const projected = memberFactsOf(resource);
  const facts = projected?.facts ?? [];
  const ctes = isNew ? [] : [`fd AS (DELETE FROM coordination_fact WHERE rid = (SELECT rid FROM ${source}))`];
  if (facts.length === 0) return ctes;
  const member = p.add(projected?.memberId ?? '', 'text');
  const kind = p.add(facts.map((f) => f.kind), 'text[]');
  const key = p.add(facts.map((f) => f.key), 'text[]');
  const org = p.add(facts.map((f) => f.org ?? null), 'text[]');
  const lo = p.add(facts.map((f) => lower(f.range)), 'int8[]');
  const hi = p.add(facts.map((f) => upper(f.range)), 'int8[]');
  ctes.push(`fi AS (INSERT INTO coordination_fact (rid, member_id, kind, key, org, during)
    SELECT s.rid, ${member}, u.kind, u.key, u.org, int8range(u.lo, u.hi, '[)')
      FROM ${source} s, unnest(${kind}, ${key}, ${org}, ${lo}, ${hi}) AS u(kind, key, org, lo, hi))`);
  return ctes;
}

/** Current resources (JSON text, rid order) of the member with a fact matching any query (facts.ts factMatches). */
export async function selectByFacts(q: Queryable, memberId: string, all: readonly FactQuery[]): Promise<string[]> {
  // An empty range matches nothing, and int8range() refuses a lower bound above the upper one.
  const queries = all.filter((x) => !isEmpty(x.range));
  if (queries.length === 0) return [];
  const res = await q.query<{ content: string }>(
    `SELECT r.content FROM resource r
      WHERE r.rid IN (
              SELECT f.rid
                FROM unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[]) AS u(kind, key, lo, hi, org)
                JOIN coordination_fact f
                  ON f.member_id = $1 AND f.kind = u.kind AND f.key = u.key
                 -- the indexed end bound (migrations/0003) first, then the exact overlap
                 AND COALESCE(upper(f.during), 9223372036854775807) > COALESCE(u.lo, -9223372036854775807)
                 AND f.during && int8range(u.lo, u.hi, '[)')
                 AND (u.org IS NULL OR f.org IS NULL OR f.org <> u.org))
        AND NOT r.deleted
      ORDER BY r.rid`,
    [
      memberId,
      queries.map((x) => x.kind),
      queries.map((x) => x.key),
      queries.map((x) => lower(x.range)),
      queries.map((x) => upper(x.range)),
      queries.map((x) => x.otherOrgThan ?? null),
    ],
    PREPARED,
  );
  return res.rows.map((r) => r.content);
}

const FACTS_LOCK_KEY = 0x0c0c0a2; // beside migrate.ts's key: one rebuild at a time across processes
const REBUILD_BATCH = 1000;

/**
 * Brings the projection up to FACTS_VERSION: when the stored rows were built by another derivation (or
 * never, after the migration that created the table), recomputes every fact from the current resources
 * in one transaction. Returns the number of resources projected, or undefined when nothing was to do.
 * Writers wait on the table lock meanwhile, so no write can slip between the scan and the commit.
 */
export async function ensureCoordinationFacts(db: Database): Promise<number | undefined> {
  return db.withSessionLock(FACTS_LOCK_KEY, async () => {
    const state = await db.query<{ version: number }>('SELECT version FROM coordination_fact_state');
    if ((state.rows[0]?.version ?? 0) >= FACTS_VERSION) return undefined;
    return db.transaction(async (tx) => {
      await tx.query('LOCK TABLE coordination_fact IN SHARE ROW EXCLUSIVE MODE');
      await tx.query('DELETE FROM coordination_fact');
      let projected = 0;
      let after = 0;
      for (;;) {
        const batch = await tx.query<{ rid: number | string; resource_type: string; content: string }>(
          `SELECT rid, resource_type, content FROM resource
            WHERE resource_type = ANY($1::text[]) AND NOT deleted AND rid > $2
            ORDER BY rid LIMIT ${REBUILD_BATCH}`,
          [[...FACT_TYPES], after],
        );
        const rows = new FactRows();
        for (const row of batch.rows) rows.add(Number(row.rid), JSON.parse(row.content) as Resource);
        if (rows.rid.length > 0) await tx.query(INSERT_SELECT, rows.columns);
        projected += batch.rows.length;
        const last = batch.rows[batch.rows.length - 1];
        if (!last || batch.rows.length < REBUILD_BATCH) break;
        after = Number(last.rid);
      }
      await tx.query('UPDATE coordination_fact_state SET version = $1', [FACTS_VERSION]);
      return projected;
    });
  });
}

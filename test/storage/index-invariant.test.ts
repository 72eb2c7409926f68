// The search index tables have no foreign key to resource since migration 0017 (docs/adr/0024): the
// storage layer itself keeps the invariant the key guarded. After creates, updates, deletes, re-creates,
// bulk-import batches (new and updated versions), and writes that fail (the transaction's function
// throws, a later statement of the transaction fails, a stale version, an extraction refusal), every
// index row belongs to an existing, live resource row, and the rows of each live resource are those of
// its current version (the extraction of that version; compared row by row in version-write.test.ts).
import type { Resource } from '@medplum/fhirtypes';
import type { AuditRecord } from '../../src/audit/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractIndexValues } from '../../src/fhir/search/extract.js';
import type { StoredVersion } from '../../src/fhir/repository.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { INDEX_TABLES } from '../../src/storage/search/write-index.js';
import { openTestDatabase, storageBackends } from '../support/db.js';

const at = (n: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();

function patient(id: string, n: number, family = 'Rivera'): Resource {
  return {
    resourceType: 'Patient',
    id,
    meta: { versionId: String(n), lastUpdated: at(n) },
    identifier: [{ system: 'urn:x', value: `${id}-${n}` }],
    name: [{ family, given: ['Ana', `G${n}`] }],
    telecom: [
      { system: 'phone', value: `555-${n}` },
      { system: 'email', value: `${id}@example.org` },
    ],
    birthDate: '1948-03-02',
    gender: 'female',
  };
}

const version = (r: Resource, deleted = false): StoredVersion => ({
  resourceType: r.resourceType,
  id: r.id!,
  versionId: Number(r.meta!.versionId),
  lastUpdated: r.meta!.lastUpdated!,
  deleted,
  ...(deleted ? {} : { content: JSON.stringify(r) }),
});

/** Rows expected in the index for r: its extraction less the row-backed parameters. */
function expectedRows(r: Resource): number {
  const rows = extractIndexValues(r);
  return Object.values(rows)
    .flat()
    .filter((x: { code: string }) => x.code !== '_id' && x.code !== '_lastUpdated').length;
}

describe.each(storageBackends())('search index rows without foreign keys on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
  });
  afterAll(async () => {
    await repo.close();
  });

  /** Index rows whose rid names no resource row, or a deleted one, per table (must all be 0). */
  async function orphans(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const t of INDEX_TABLES) {
      const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} x LEFT JOIN resource r ON r.rid = x.rid WHERE r.rid IS NULL OR r.deleted`);
      out[t] = res.rows[0]!.n;
    }
    return out;
  }
  const none = Object.fromEntries(INDEX_TABLES.map((t) => [t, 0]));

  async function rowsOf(type: string, id: string): Promise<number> {
    let n = 0;
    for (const t of INDEX_TABLES) {
      const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} x JOIN resource r ON r.rid = x.rid WHERE r.resource_type = $1 AND r.id = $2`, [type, id]);
      n += res.rows[0]!.n;
    }
    return n;
  }
  const totalRows = async (): Promise<number> => {
    let n = 0;
    for (const t of INDEX_TABLES) n += (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n;
    return n;
  };

  const create = (r: Resource): Promise<void> => repo.transaction((tx) => tx.writeVersion(version(r), 'POST', r as unknown as Record<string, unknown>));
  const update = (r: Resource): Promise<void> =>
    repo.transaction(async (tx) => {
      await tx.lockCurrent(r.resourceType, r.id!);
      await tx.writeVersion(version(r), 'PUT', r as unknown as Record<string, unknown>);
    });
  const remove = (r: Resource): Promise<void> =>
    repo.transaction(async (tx) => {
      await tx.lockCurrent(r.resourceType, r.id!);
      await tx.writeVersion(version(r, true), 'DELETE');
    });

  it('the index tables hold no foreign key (migration 0017); the other tables keep theirs', async () => {
    const res = await db.query<{ t: string }>(`SELECT conrelid::regclass::text AS t FROM pg_constraint WHERE contype = 'f' AND confrelid = 'resource'::regclass ORDER BY 1`);
    const tables = res.rows.map((r) => r.t.replace(/^.*\./, ''));
    for (const t of INDEX_TABLES) expect(tables).not.toContain(t);
    expect(tables).toEqual(expect.arrayContaining(['resource_version', 'coordination_fact', 'member_access']));
  });

  it('creates, updates, deletes and re-creates leave only the current live version rows', async () => {
    for (let i = 0; i < 5; i++) await create(patient(`p${i}`, 1));
    for (let i = 0; i < 5; i++) await update(patient(`p${i}`, 2, 'Moreno'));
    await remove(patient('p0', 3));
    await remove(patient('p1', 3));
    // A deleted resource written again (versionId 4 after the deletion's 3).
    await update(patient('p1', 4, 'Vega'));
    expect(await orphans()).toEqual(none);
    expect(await rowsOf('Patient', 'p0')).toBe(0);
    expect(await rowsOf('Patient', 'p1')).toBe(expectedRows(patient('p1', 4, 'Vega')));
    expect(await rowsOf('Patient', 'p2')).toBe(expectedRows(patient('p2', 2, 'Moreno')));
    const family = await db.query<{ v: string }>(`SELECT DISTINCT x.value_exact AS v FROM search_string x JOIN resource r USING (rid) WHERE r.id = 'p2' AND x.code = 'family'`);
    expect(family.rows.map((r) => r.v)).toEqual(['Moreno']);
  });

  it('bulk-import batches (new and updated versions) keep the invariant', async () => {
    const batch = (n: number, ids: string[]): Promise<void> =>
      repo.bulkTransaction(async (tx) => {
        const current = await tx.lockCurrentMany(ids.map((id) => ({ resourceType: 'Patient', id })));
        const versions = ids.map((id) => {
          const v = (current.get(`Patient/${id}`)?.versionId ?? 0) + 1;
          const r = patient(id, v, `F${n}`);
          return { version: version(r), resource: r as unknown as Record<string, unknown> };
        });
        await tx.writeVersions(versions);
      });
    await batch(1, ['b1', 'b2', 'b3']);
    await batch(2, ['b2', 'b3', 'b4']);
    expect(await orphans()).toEqual(none);
    expect(await rowsOf('Patient', 'b3')).toBe(expectedRows(patient('b3', 2, 'F2')));
  });

  it('a write that fails leaves no index row behind', async () => {
    const before = await totalRows();
    const failure = new Error('the request failed after its version write');
    // The transaction's function throws once the version write was sent.
    await expect(
      repo.transaction(async (tx) => {
        await tx.writeVersion(version(patient('f1', 1)), 'POST', patient('f1', 1) as unknown as Record<string, unknown>);
        throw failure;
      }),
    ).rejects.toBe(failure);
    // A later statement of the same transaction fails (an AuditEvent id that already exists).
    const audit = { id: 'dup-audit', recorded: at(1), type: 'rest', subtype: 'create', action: 'C', outcome: '0', entities: [], patients: [], resource: { resourceType: 'AuditEvent' } } as unknown as AuditRecord;
    await repo.transaction((tx) => tx.appendAuditEvents([audit]));
    await expect(
      repo.transaction(async (tx) => {
        await tx.writeVersion(version(patient('f2', 1)), 'POST', patient('f2', 1) as unknown as Record<string, unknown>);
        await tx.appendAuditEvents([audit]);
      }),
    ).rejects.toThrow();
    // A version that is not the successor of the current one (p3 is at version 2).
    await expect(repo.transaction((tx) => tx.writeVersion(version(patient('p3', 7)), 'PUT', patient('p3', 7) as unknown as Record<string, unknown>))).rejects.toThrow();
    // Extraction refuses (more rows than allowed) before anything is sent.
    const strict = new ResourceRepository(db, { readCacheEntries: 0, maxIndexRows: 1 });
    await expect(strict.transaction((tx) => tx.writeVersion(version(patient('f3', 1)), 'POST', patient('f3', 1) as unknown as Record<string, unknown>))).rejects.toThrow(/search index rows/);
    expect(await totalRows()).toBe(before);
    expect(await orphans()).toEqual(none);
    for (const id of ['f1', 'f2', 'f3']) expect(await repo.read('Patient', id)).toBeUndefined();
    expect(await rowsOf('Patient', 'p3')).toBe(expectedRows(patient('p3', 2, 'Moreno')));
  });

  it('concurrent creates of one id (a unique-key race, retried) leave one resource with one set of rows', async () => {
    const r = patient('race', 1);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => create(r)));
    expect(results.some((x) => x.status === 'fulfilled')).toBe(true);
    expect(await rowsOf('Patient', 'race')).toBe(expectedRows(r));
    expect(await orphans()).toEqual(none);
  });
});

// The single version-write statement (src/storage/version-write.ts) stores exactly what a naive
// writer would: for a subset of the official R4 examples written through the repository as create,
// update and delete, the search index rows equal the rows extractIndexValues gives, inserted one by one
// by this test for a shadow resource row, and the coordination facts equal memberFactsOf's.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CareTeam, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberFactsOf } from '../../src/coordination/facts.js';
import { extractIndexValues } from '../../src/fhir/search/extract.js';
import type { Database, Queryable } from '../../src/storage/database.js';
import { INDEX_TABLES } from '../../src/storage/search/write-index.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { careTeam, ORGS, ROLES } from '../unit/coordination/builders.js';
import { openTestDatabase, storageBackends } from '../support/db.js';

const EXAMPLES_DIR = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const EVERY_NTH = 12;
const MAX_BYTES = 60_000;

function examples(): Resource[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.json') && f !== 'package.json')
    .sort()
    .filter((_f, i) => i % EVERY_NTH === 0)
    .map((f) => readFileSync(join(EXAMPLES_DIR, f), 'utf8'))
    .filter((text) => text.length <= MAX_BYTES)
    .map((text) => JSON.parse(text) as Resource)
    .filter((r) => typeof r.id === 'string' && r.resourceType !== 'Bundle');
}

const num = (n: number | null): string | null => (n === null ? null : n === Infinity ? 'Infinity' : n === -Infinity ? '-Infinity' : String(n));

/** The rows of `resource`, one INSERT per row, under rid (the naive reference writer). */
async function insertNaively(q: Queryable, rid: number, resource: Resource): Promise<void> {
  const rows = extractIndexValues(resource);
  const t = resource.resourceType;
  const keep = <T extends { code: string }>(xs: T[]): T[] => xs.filter((x) => x.code !== '_id' && x.code !== '_lastUpdated');
  const ins = (table: string, cols: string[], values: unknown[]): Promise<unknown> =>
    q.query(`INSERT INTO ${table} (rid, resource_type, ${cols.join(', ')}) VALUES ($1, $2, ${cols.map((_c, i) => `$${i + 3}`).join(', ')})`, [rid, t, ...values]);
  for (const r of keep(rows.token)) await ins('search_token', ['code', 'system', 'value', 'text_norm'], [r.code, r.system, r.value, r.text]);
  for (const r of keep(rows.string)) await ins('search_string', ['code', 'value_norm', 'value_exact'], [r.code, r.normalized, r.exact]);
  for (const r of keep(rows.date)) await ins('search_date', ['code', 'low', 'high'], [r.code, r.low, r.high]);
  for (const r of keep(rows.number)) await ins('search_number', ['code', 'low', 'high'], [r.code, num(r.low), num(r.high)]);
  for (const r of keep(rows.quantity)) {
    await ins('search_quantity', ['code', 'low', 'high', 'system', 'unit_code', 'unit'], [r.code, num(r.low), num(r.high), r.system, r.unitCode, r.unit]);
  }
  for (const r of keep(rows.reference)) {
    await ins('search_reference', ['code', 'target_type', 'target_id', 'url', 'identifier_system', 'identifier_value'], [r.code, r.targetType, r.targetId, r.url, r.identifierSystem, r.identifierValue]);
  }
  for (const r of keep(rows.uri)) await ins('search_uri', ['code', 'value'], [r.code, r.value]);
  for (const r of keep(rows.composite)) {
    await ins(
      'search_composite',
      ['code', 'c1_system', 'c1_value', 'c2_system', 'c2_value', 'c2_low', 'c2_high', 'c2_date_low', 'c2_date_high'],
      [r.code, r.c1System, r.c1Value, r.c2System, r.c2Value, num(r.c2Low), num(r.c2High), r.c2DateLow, r.c2DateHigh],
    );
  }
}

/** Every index row of rid as sorted JSON texts (rid itself left out), per table. */
async function indexRows(q: Queryable, rid: number): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of INDEX_TABLES) {
    const res = await q.query<{ j: unknown }>(`SELECT (to_jsonb(t) - 'rid')::text AS j FROM ${table} t WHERE rid = $1`, [rid]);
    out[table] = res.rows.map((r) => String(r.j)).sort();
  }
  return out;
}

describe.each(storageBackends())('the version-write statement on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
  });
  afterAll(async () => {
    await repo.close();
  });

  const ridOf = async (type: string, id: string): Promise<number> =>
    Number((await db.query<{ rid: number }>('SELECT rid FROM resource WHERE resource_type = $1 AND id = $2', [type, id])).rows[0]!.rid);

  /** The shadow row's index, written naively, compared with the real row's; the shadow is then removed. */
  async function expectIndexOf(resource: Resource, rid: number): Promise<number> {
    const actual = await indexRows(db, rid);
    let expected: Record<string, string[]> | undefined;
    const rollback = new Error('rollback');
    // Never committed: the shadow row only serves this comparison.
    await db
      .transaction(async (tx) => {
        const shadow = await tx.query<{ rid: number }>(
          `INSERT INTO resource (resource_type, id, version_id, last_updated, content) VALUES ('Basic', $1, 1, now(), '{}') RETURNING rid`,
          [`shadow-${rid}`],
        );
        const shadowRid = Number(shadow.rows[0]!.rid);
        await insertNaively(tx, shadowRid, resource);
        expected = await indexRows(tx, shadowRid);
        throw rollback;
      })
      .catch((err: unknown) => {
        if (err !== rollback) throw err;
      });
    expect(actual).toEqual(expected);
    return Object.values(actual).reduce((n, rows) => n + rows.length, 0);
  }

  it('writes the same index rows as one INSERT per extracted row, on create, update and delete', async () => {
    const all = examples();
    expect(all.length).toBeGreaterThan(150);
    let rows = 0;
    for (const example of all) {
      const type = example.resourceType;
      const id = example.id!;
      const at = (n: number): string => new Date(Date.UTC(2026, 0, n)).toISOString();
      const v1 = { ...example, meta: { ...example.meta, versionId: '1', lastUpdated: at(1) } } as Resource;
      await repo.transaction((tx) => tx.writeVersion({ resourceType: type, id, versionId: 1, lastUpdated: at(1), deleted: false, content: JSON.stringify(v1) }, 'POST', v1 as unknown as Record<string, unknown>));
      const rid = await ridOf(type, id);
      rows += await expectIndexOf(v1, rid);
      // An update that drops most elements: the first version's rows must all be gone.
      const v2 = { resourceType: type, id, meta: { versionId: '2', lastUpdated: at(2) }, ...('status' in example ? { status: example.status } : {}) } as Resource;
      await repo.transaction(async (tx) => {
        await tx.lockCurrent(type, id);
        await tx.writeVersion({ resourceType: type, id, versionId: 2, lastUpdated: at(2), deleted: false, content: JSON.stringify(v2) }, 'PUT', v2 as unknown as Record<string, unknown>);
      });
      await expectIndexOf(v2, rid);
      await repo.transaction((tx) => tx.writeVersion({ resourceType: type, id, versionId: 3, lastUpdated: at(3), deleted: true }, 'DELETE'));
      expect(await indexRows(db, rid)).toEqual(Object.fromEntries(INDEX_TABLES.map((t) => [t, []])));
    }
    expect(rows).toBeGreaterThan(2000);
  }, 600_000);

  it('writes the coordination facts of a create and an update, and removes them on delete', async () => {
    const facts = async (rid: number): Promise<string[]> =>
      (await db.query<{ f: string }>(`SELECT member_id || ' ' || kind || ' ' || key || ' ' || coalesce(org, '-') || ' ' || during::text AS f FROM coordination_fact WHERE rid = $1`, [rid])).rows
        .map((r) => r.f)
        .sort();
    const expected = (team: CareTeam): string[] => {
      const projected = memberFactsOf(team);
      return (projected?.facts ?? [])
        .map((f) => `${projected!.memberId} ${f.kind} ${f.key} ${f.org ?? '-'} ${Number.isFinite(f.range.start) ? `[${f.range.start}` : '('},${Number.isFinite(f.range.end) ? f.range.end : ''})`)
        .sort();
    };
    const v1 = careTeam('facts-team', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, scopes: ['bh-and-out-of-plan'] }]);
    await repo.transaction((tx) =>
      tx.writeVersion({ resourceType: 'CareTeam', id: 'facts-team', versionId: 1, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(v1) }, 'POST', v1 as unknown as Record<string, unknown>),
    );
    const rid = await ridOf('CareTeam', 'facts-team');
    expect(expected(v1).length).toBeGreaterThan(0);
    expect(await facts(rid)).toEqual(expected(v1));
    const v2 = { ...v1, status: 'inactive' } as CareTeam;
    await repo.transaction(async (tx) => {
      await tx.lockCurrent('CareTeam', 'facts-team');
      await tx.writeVersion({ resourceType: 'CareTeam', id: 'facts-team', versionId: 2, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(v2) }, 'PUT', v2 as unknown as Record<string, unknown>);
    });
    expect(await facts(rid)).toEqual(expected(v2));
    await repo.transaction(async (tx) => {
      await tx.lockCurrent('CareTeam', 'facts-team');
      await tx.writeVersion({ resourceType: 'CareTeam', id: 'facts-team', versionId: 3, lastUpdated: new Date().toISOString(), deleted: true }, 'DELETE');
    });
    expect(await facts(rid)).toEqual([]);
  });

  it('refuses a version that is not the next one, writing nothing', async () => {
    const body = { resourceType: 'Patient', id: 'skip', gender: 'male' };
    await repo.transaction((tx) => tx.writeVersion({ resourceType: 'Patient', id: 'skip', versionId: 1, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(body) }, 'POST', body));
    const rid = await ridOf('Patient', 'skip');
    const before = await indexRows(db, rid);
    await expect(
      repo.transaction((tx) => tx.writeVersion({ resourceType: 'Patient', id: 'skip', versionId: 3, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify({ ...body, gender: 'female' }) }, 'PUT', { ...body, gender: 'female' })),
    ).rejects.toThrow(/not current/);
    expect(await indexRows(db, rid)).toEqual(before);
    const versions = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_version WHERE rid = $1', [rid]);
    expect(versions.rows[0]!.n).toBe(1);
  });

  it('fails the whole transaction on a stale version, though its COMMIT was sent before the answer', async () => {
    const body = { resourceType: 'Patient', id: 'stale', gender: 'male' };
    await repo.transaction((tx) => tx.writeVersion({ resourceType: 'Patient', id: 'stale', versionId: 1, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(body) }, 'POST', body));
    const other = { resourceType: 'Patient', id: 'stale-companion', gender: 'female' };
    // Neither write is waited for inside the function: COMMIT goes out right behind them.
    await expect(
      repo.transaction(async (tx) => {
        void tx.writeVersion({ resourceType: 'Patient', id: 'stale-companion', versionId: 1, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(other) }, 'POST', other);
        void tx.writeVersion({ resourceType: 'Patient', id: 'stale', versionId: 3, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(body) }, 'PUT', body);
        return Promise.resolve();
      }),
    ).rejects.toThrow(/version 2 of Patient\/stale is not current/);
    const stored = await db.query<{ id: string; version_id: number }>(`SELECT id, version_id FROM resource WHERE id IN ('stale', 'stale-companion')`);
    expect(stored.rows).toEqual([{ id: 'stale', version_id: 1 }]);
  });
});

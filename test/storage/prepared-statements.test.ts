// Search plans are reused (docs/adr/0013): a search's SQL text depends only on the request's shape, a
// shape seen again runs as a named prepared statement, and each pooled connection holds at most the
// configured number of them. PostgreSQL only: PGlite runs every statement unnamed.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSearchRequest } from '../../src/fhir/search/parse.js';
import type { Database } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { openPostgres, statementName } from '../../src/storage/postgres.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { postgresUrl } from '../support/db.js';

const CAP = 3;

describe.skipIf(!postgresUrl())('prepared search statements on postgres', () => {
  let db: Database;
  let repo: ResourceRepository;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  beforeAll(async () => {
    const setup = await openPostgres({ connectionString: postgresUrl()!, schema, acquireTimeoutMs: 60_000 });
    await migrate(setup);
    await setup.close();
    // One connection, so every statement below runs on the connection whose statements are counted.
    db = await openPostgres({ connectionString: postgresUrl()!, schema, max: 1, maxPreparedStatements: CAP, acquireTimeoutMs: 60_000 });
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
    for (let i = 0; i < 20; i++) {
      const body = { resourceType: 'Patient', id: `p${i}`, gender: i % 2 ? 'male' : 'female', birthDate: `19${50 + i}-01-01`, name: [{ family: `Fam${i}` }] };
      await repo.transaction((tx) =>
        tx.writeVersion({ resourceType: 'Patient', id: `p${i}`, versionId: 1, lastUpdated: new Date().toISOString(), deleted: false, content: JSON.stringify(body) }, 'POST', body),
      );
    }
  });
  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await repo.close();
  });

  const search = async (query: string): Promise<string[]> => {
    const { request } = parseSearchRequest('Patient', new URLSearchParams(query), { strict: true, maxCount: 100 });
    return (await repo.search(request)).matches.map((m) => m.id).sort();
  };
  const statements = async (): Promise<{ statement: string; runs: number }[]> =>
    (
      await db.query<{ statement: string; runs: number }>(
        `SELECT statement, (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements WHERE name LIKE 'concord\\_%'`,
      )
    ).rows;

  it('runs a repeated search shape as one prepared statement, whatever the values', async () => {
    const before = await statements();
    for (let i = 0; i < 10; i++) expect(await search(`family:exact=Fam${i}&gender=${i % 2 ? 'male' : 'female'}`)).toEqual([`p${i}`]);
    const family = (await statements()).filter((s) => s.statement.includes('search_string') && s.statement.includes('search_token') && !before.some((b) => b.statement === s.statement));
    expect(family).toHaveLength(1);
    // Seen once unnamed, then executed prepared for the other nine (plans cached by PostgreSQL).
    expect(family[0]!.runs).toBe(9);
    expect(family[0]!.statement).not.toMatch(/Fam\d/);
  });

  it('holds at most the configured number per connection, least recently used deallocated first', async () => {
    const shapes = ['gender=male', 'birthdate=ge1955', 'family=Fam3', 'name=Fam4', 'gender=female&birthdate=lt1960', '_id=p5', 'family:exact=Fam6'];
    for (const q of shapes) {
      const first = await search(q);
      expect(await search(q)).toEqual(first);
      expect((await statements()).length).toBeLessThanOrEqual(CAP);
    }
    // The last shapes are the ones held; results stay right when an evicted shape comes back.
    expect(await search('family=Fam3')).toEqual(['p3']);
    expect(await search('family=Fam3')).toEqual(['p3']);
    expect(await search('gender=male')).toHaveLength(10);
    expect((await statements()).length).toBe(CAP);
  });
});

// node-postgres records per connection which names it parsed and Binds those without parsing again; a
// name it forgot while PostgreSQL still holds it fails every later use with 42P05, one it remembers that
// PostgreSQL dropped fails with 26000. Neither may last beyond one statement.
describe.skipIf(!postgresUrl())('prepared statement names stay in step with the server on postgres', () => {
  let db: Database;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const A = 'SELECT 1 AS v WHERE $1::int = 1';
  const B = 'SELECT 2 AS v WHERE $1::int = 1';
  beforeAll(async () => {
    db = await openPostgres({ connectionString: postgresUrl()!, schema, max: 1, maxPreparedStatements: 1, acquireTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.close();
  });
  const prepared = (sql: string): Promise<number | undefined> => db.query<{ v: number }>(sql, [1], { prepare: true }).then((r) => r.rows[0]?.v);
  const held = async (): Promise<string[]> =>
    (await db.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'concord\\_%' ORDER BY name`)).rows.map((r) => r.name);

  it('does not deallocate in a transaction already failed by an unwaited statement: the texts keep working', async () => {
    for (const sql of [A, A, B, B]) await prepared(sql);
    expect(await held()).toEqual([statementName(B)]);
    // A comes back in a transaction that an unwaited statement already failed, with no room left.
    await expect(
      db.transaction(async (tx) => {
        tx.commitsOnlyAfter(tx.query('SELECT 1/0'));
        await tx.query(A, [1], { prepare: true });
      }),
    ).rejects.toMatchObject({ code: '22012' });
    for (let i = 0; i < 3; i++) {
      expect(await prepared(B)).toBe(2);
      expect(await prepared(A)).toBe(1);
    }
    expect((await held()).length).toBe(1);
  });

  it('makes room after a transaction that found the connection full, so that its text is prepared next time', async () => {
    expect(await prepared(B)).toBe(2);
    expect(await held()).toEqual([statementName(B)]);
    const inTransaction = (): Promise<unknown> => db.transaction((tx) => tx.query(A, [1], { prepare: true }));
    await inTransaction(); // no room: A runs unnamed, B is deallocated once the transaction is over
    expect(await held()).toEqual([]);
    await inTransaction();
    expect(await held()).toEqual([statementName(A)]);
  });

  it('parses again a statement the server dropped behind its back (26000 once, then it works)', async () => {
    expect(await prepared(B)).toBe(2);
    await db.exec('DEALLOCATE ALL');
    await expect(prepared(B)).rejects.toMatchObject({ code: '26000' });
    expect(await prepared(B)).toBe(2);
    expect(await prepared(B)).toBe(2);
  });

  it('adopts a name the server already holds (42P05 once, then it works)', async () => {
    const C = 'SELECT 3 AS v WHERE $1::int = 1';
    await prepared(C); // seen: prepared from its next run on
    await db.exec('DEALLOCATE ALL');
    await db.exec(`PREPARE ${statementName(C)} AS ${C}`);
    // Concord's bookkeeping (one held, B) does not know C: it deallocates B (gone: 26000, fine) and parses C.
    await expect(prepared(C)).rejects.toMatchObject({ code: '42P05' });
    expect(await prepared(C)).toBe(3);
    expect(await prepared(C)).toBe(3);
    expect(await held()).toEqual([statementName(C)]);
  });
});

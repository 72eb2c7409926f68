// Statements a transaction sends without waiting for them (the version write, the AuditEvent insert:
// TransactionQueryable.commitsOnlyAfter) keep the guarantees of statements waited for one by one: their
// failure is the transaction's error (not a later statement's "current transaction is aborted"), nothing
// of the transaction commits, and what succeeded commits with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase, storageBackends } from '../support/db.js';

describe.each(storageBackends())('unwaited statements in a transaction on %s', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    await db.exec('CREATE TABLE unwaited (k text PRIMARY KEY)');
    await db.query(`INSERT INTO unwaited VALUES ('taken')`);
  });
  afterAll(async () => db.close());

  const keys = async (): Promise<string[]> => (await db.query<{ k: string }>('SELECT k FROM unwaited ORDER BY k')).rows.map((r) => r.k);

  it('commits them with the transaction when they succeed, and later statements see them', async () => {
    const seen = await db.transaction(async (tx) => {
      tx.commitsOnlyAfter(tx.query(`INSERT INTO unwaited VALUES ('a1')`));
      tx.commitsOnlyAfter(tx.query(`INSERT INTO unwaited VALUES ('a2')`));
      return (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM unwaited WHERE k LIKE 'a%'`)).rows[0]!.n;
    });
    expect(seen).toBe(2);
    expect(await keys()).toEqual(['a1', 'a2', 'taken']);
  });

  it('reports the failure of an unwaited statement to the next statement, not that statement own consequential error', async () => {
    let next: unknown;
    await expect(
      db.transaction(async (tx) => {
        tx.commitsOnlyAfter(tx.query(`INSERT INTO unwaited VALUES ('b1')`));
        tx.commitsOnlyAfter(tx.query(`INSERT INTO unwaited VALUES ('taken')`));
        // Sent concurrently: both must see the duplicate key as the reason.
        const [a, b] = await Promise.allSettled([tx.query('SELECT 1'), tx.query('SELECT 2')]);
        next = [a, b].map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'ok'));
        throw (a as PromiseRejectedResult).reason;
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(next).toEqual(['23505', '23505']);
    expect(await keys()).toEqual(['a1', 'a2', 'taken']);
  });

  it('fails the transaction when an unwaited statement fails after the last waited one: nothing commits', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO unwaited VALUES ('c1')`);
        tx.commitsOnlyAfter(tx.query(`INSERT INTO unwaited VALUES ('c2')`));
        tx.commitsOnlyAfter(tx.query(`INSERT INTO unwaited VALUES ('taken')`));
        tx.commitsOnlyAfter(tx.query(`INSERT INTO unwaited VALUES ('c3')`));
        return 'done';
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await keys()).toEqual(['a1', 'a2', 'taken']);
  });

  it('fails the transaction with the error of a statement whose caller dropped its failure', async () => {
    await expect(
      db.transaction((tx) => {
        tx.commitsOnlyAfter(tx.query(`INSERT INTO unwaited VALUES ('d1')`));
        // A read sent alongside (a prefetch) that nobody ends up waiting for.
        tx.query('SELECT 1 / 0').catch(() => undefined);
        return Promise.resolve('done');
      }),
    ).rejects.toMatchObject({ code: '22012' });
    expect(await keys()).toEqual(['a1', 'a2', 'taken']);
  });

  it('refuses, unsent, a statement issued from a callback after the function returned', async () => {
    let late: Promise<unknown> | undefined;
    const result = await db.transaction(async (tx) => {
      // A chain nobody waits for (like a second-level prefetch): its statement would otherwise go out
      // after COMMIT, on a connection back in the pool (or in another request's transaction).
      late = tx
        .query('SELECT 1')
        .then(() => new Promise((resolve) => setTimeout(resolve, 20)))
        .then(() => tx.query(`INSERT INTO unwaited VALUES ('late')`));
      late.catch(() => undefined);
      await tx.query(`INSERT INTO unwaited VALUES ('e1')`);
      return 'done';
    });
    expect(result).toBe('done');
    await expect(late).rejects.toThrow(/transaction is over/);
    expect(await keys()).toEqual(['a1', 'a2', 'e1', 'taken']);
  });
});

// A transaction's statements issued in the same turn of the event loop leave PostgreSQL's connection in
// one socket write (postgres.ts batcher): BEGIN with the first statement, and a write's trailing
// statements (event insert, AuditEvent insert) with COMMIT. Each was a system call and a wake-up of the
// backend of its own.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase, postgresUrl } from '../support/db.js';

describe.runIf(postgresUrl())('socket writes of a pipelined transaction on postgres', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase('postgres', { max: 2 });
    await db.exec('CREATE TABLE pipelined (k text PRIMARY KEY)');
  });
  afterAll(async () => db.close());

  /** Socket writes (each a write or writev system call) made while fn runs. */
  async function socketWrites(fn: () => Promise<unknown>): Promise<number> {
    const proto = net.Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    const write = proto._write;
    const writev = proto._writev;
    let n = 0;
    proto._write = function (this: unknown, ...args: unknown[]) {
      n++;
      return write.apply(this, args);
    };
    proto._writev = function (this: unknown, ...args: unknown[]) {
      n++;
      return writev.apply(this, args);
    };
    try {
      await fn();
    } finally {
      proto._write = write;
      proto._writev = writev;
    }
    return n;
  }

  it('BEGIN, statements sent without waiting and COMMIT issued in one turn: one socket write', async () => {
    // Both pooled connections open (opening one writes to its socket too).
    await Promise.all([0, 1].map(() => db.transaction((tx) => tx.query('SELECT pg_sleep(0.05)'))));
    const writes = await socketWrites(() =>
      db.transaction((tx) => {
        for (const k of ['a', 'b', 'c']) tx.commitsOnlyAfter(tx.query('INSERT INTO pipelined VALUES ($1)', [k]));
        return Promise.resolve();
      }),
    );
    expect(writes).toBe(1);
    expect((await db.query<{ k: string }>('SELECT k FROM pipelined ORDER BY k')).rows.map((r) => r.k)).toEqual(['a', 'b', 'c']);
  });

  it('a statement waited for is sent at once, and what follows it leaves together with COMMIT', async () => {
    const writes = await socketWrites(() =>
      db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        tx.commitsOnlyAfter(tx.query('INSERT INTO pipelined VALUES ($1)', ['d']));
        tx.commitsOnlyAfter(tx.query('INSERT INTO pipelined VALUES ($1)', ['e']));
      }),
    );
    expect(writes).toBe(2);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pipelined')).rows[0]!.n).toBe(5);
  });
});

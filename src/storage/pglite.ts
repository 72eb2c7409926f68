import { PGlite } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { Database, Queryable, QueryResult, TransactionQueryable } from './database.js';
import { InFlight } from './in-flight.js';

// A data directory must be reopened with the same extensions it was created with, so the set is fixed
// here rather than configurable.
const extensions = { btree_gist, pg_trgm };

// PostgreSQL's default 128 MB of shared buffers live in the WASM heap, which never shrinks: once a
// server has touched that much data (e.g. the R4 examples) its RSS stays ~130 MB higher. The files sit in
// the OS page cache anyway, so a small buffer pool costs little (bench/RESULTS.md, memory on PGlite).
const SHARED_BUFFERS = 'shared_buffers=16MB';

/** Opens embedded PostgreSQL (WASM). dataDir undefined = in memory. One connection: writes serialize. */
export async function openPglite(dataDir?: string): Promise<Database> {
  const db = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions, startParams: [...PGlite.defaultStartParams, '-c', SHARED_BUFFERS] });
  const wrapTx = (tx: { query: PGlite['query']; exec: PGlite['exec'] }): Queryable => ({
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const res = await tx.query<T>(sql, params);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await tx.exec(sql);
    },
  });
  const root = wrapTx(db);
  // PGlite's int8 arrives as a JS number already for values within 2^53 in 0.5.x; nothing to set here.
  return {
    kind: 'pglite',
    namespace: 'public',
    query: (sql, params) => root.query(sql, params),
    exec: (sql) => root.exec(sql),
    // Statement timeouts and cancellation (TransactionOptions, QueryOptions.signal) are not applied:
    // PGlite runs in this process's thread, where PostgreSQL's timer interrupts cannot fire, and there
    // is no connection to give back or close. Its one connection also never waits in a pool.
    transaction<T>(fn: (tx: TransactionQueryable) => Promise<T>): Promise<T> {
      return db.transaction(async (tx) => {
        // In process there are no round trips to save; statements not waited for are still run in
        // order (PGlite queues them) and must all succeed before the transaction commits.
        const inFlight = new InFlight();
        const inner = wrapTx(tx);
        const q: TransactionQueryable = {
          query: <R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => inFlight.run(() => inner.query<R>(sql, params)),
          exec: (sql: string): Promise<void> => inFlight.run(() => inner.exec(sql)),
          commitsOnlyAfter: (statement) => inFlight.add(statement),
        };
        // Closed once fn is done: a statement issued later would run after COMMIT (refused unsent).
        const result = await fn(q).finally(() => inFlight.close());
        await inFlight.all();
        return result;
      });
    },
    snapshot<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      // PGlite's transaction holds its one connection (nothing else runs until it ends), so the snapshot
      // is consistent by construction; the isolation level states it as on PostgreSQL.
      return db.transaction(async (tx) => {
        const q = wrapTx(tx);
        await q.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        return fn(q);
      });
    },
    async withSessionLock<T>(_key: number, fn: (conn: Queryable) => Promise<T>): Promise<T> {
      // A single connection in a single process: nobody else can run migrations concurrently.
      return fn(root);
    },
    async ping(): Promise<void> {
      await db.query('SELECT 1');
    },
    async close(): Promise<void> {
      if (!db.closed) await db.close();
    },
  };
}

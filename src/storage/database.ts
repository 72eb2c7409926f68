// One small interface over PostgreSQL (pg Pool) and embedded PGlite so that every SQL statement in
// Concord runs unchanged on both. Only src/storage/ uses it.

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface QueryOptions {
  prepare?: boolean;
  /**
   * Aborting cancels the running statement (PostgreSQL: the connection is closed and the server stops
   * the query within client_connection_check_interval); the call rejects with StoreUnavailableError
   * 'cancelled'. PGlite ignores it (one in-process connection, nothing to release).
   */
  signal?: AbortSignal;
}

export interface TransactionOptions {
  /**
   * statement_timeout inside the transaction (SET LOCAL), in ms; 0 or unset = none. A timed-out
   * statement rolls the transaction back and rejects with StoreUnavailableError 'write-timeout'.
   */
  timeoutMs?: number;
}

export interface Queryable {
  /**
   * prepare: reuse a server-side prepared statement per connection (skips parse and plan). Only for
   * fixed SQL text on hot paths: every distinct text becomes a statement on every pooled connection.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<T>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * The connection of an open transaction. Statements are sent in call order and PostgreSQL runs them in
 * that order, so a statement may be sent without waiting for the one before it (node-postgres pipelines
 * them on the same connection: one round trip for several). One whose result nobody waits for is handed
 * to commitsOnlyAfter: the transaction then commits only if it succeeded (its error is the
 * transaction's), and its COMMIT travels right behind it.
 */
export interface TransactionQueryable extends Queryable {
  commitsOnlyAfter(statement: Promise<unknown>): void;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn in one READ COMMITTED transaction on one connection; rolls back when fn throws. */
  transaction<T>(fn: (tx: TransactionQueryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Runs fn in one READ ONLY REPEATABLE READ transaction on one connection: every statement of fn reads
   * the same snapshot (what was committed before its first statement), whatever commits meanwhile. Reads
   * keep the read statement timeout. For answers assembled from several reads that must agree.
   */
  snapshot<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Runs fn holding a session-level advisory lock (used by migrations, which span transactions). */
  withSessionLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T>;
  /** Answers within about timeoutMs either way: never queues behind a busy pool (readiness probes). */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
  /**
   * PostgreSQL only: LISTEN on a channel over the listening connection, one per Database whatever the
   * channels (src/storage/shared-listener.ts); resolves once LISTEN ran. onLost fires once if that
   * connection fails.
   */
  listen?(channel: string, onMessage: (payload: string) => void, onLost: (err: unknown) => void): Promise<ListenHandle>;
  /** Scopes channel names when several Concord schemas share one database (tests). */
  readonly namespace: string;
}

export interface ListenHandle {
  stop(): Promise<void>;
  /** NOTIFY on the listened channel over the listening connection itself (never queues behind the pool). */
  notify(payload: string): Promise<void>;
}

/** PostgreSQL SQLSTATEs the storage layer reacts to. */
export const SqlState = {
  uniqueViolation: '23505',
  exclusionViolation: '23P01',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export function sqlStateOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

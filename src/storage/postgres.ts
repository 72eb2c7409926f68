import { createHash } from 'node:crypto';
import pg from 'pg';
import { sqlStateOf, type Database, type Queryable, type QueryOptions, type QueryResult, type TransactionOptions, type TransactionQueryable } from './database.js';
import { classify, isConnectionError } from './faults.js';
import { connectWithRetry } from './pg-connect.js';
import { HealthProbe } from './pg-health.js';
import { InFlight } from './in-flight.js';
import { SharedListener } from './shared-listener.js';

// int8 (bigint) arrives as a string by default; Concord's bigints (rids, sequence numbers) stay far
// below 2^53, so they are parsed to numbers once here rather than at every call site.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PostgresOptions {
  connectionString: string;
  /** Schema to create and use (tests isolate each file in its own schema). */
  schema?: string;
  max?: number;
  /** application_name of every connection (pg_stat_activity); one given in the URL wins. Default 'concord'. */
  applicationName?: string;
  /** How long a request waits for a pooled connection before it is answered 503 (ms). */
  acquireTimeoutMs?: number;
  /** statement_timeout of statements outside transactions (reads, searches), in ms; 0 = none. */
  statementTimeoutMs?: number;
  /** How long an unreachable server is retried (with backoff) before opening fails, in ms; 0 = once. */
  connectTimeoutMs?: number;
  /** Named prepared statements each pooled connection may hold (default 200; 0 = none). */
  maxPreparedStatements?: number;
  /** Called before each retry of an unreachable server at open (for a log line). */
  onConnectRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export const DEFAULT_ACQUIRE_TIMEOUT_MS = 5000;
/**
 * How often a backend running a statement checks that its client is still there (PostgreSQL 14+): a
 * query whose client went away (request abandoned, Concord killed) stops within this time instead of
 * running to its end.
 */
const CLIENT_CHECK_INTERVAL_MS = 1000;

/**
 * Named prepared statements per connection (docs/adr/0013). PostgreSQL keeps a connection's prepared
 * statements, and their cached plans, until it closes, and search statements come in many shapes; so a
 * text is prepared only once this process has seen it before (one-off shapes stay unnamed), and each
 * connection holds at most `max` of them, least recently used deallocated first.
 */
export const DEFAULT_MAX_PREPARED_STATEMENTS = 200;
const SEEN_TEXTS = 10_000;

/** The statement name a text is prepared under: the same on every connection and in every process. */
export function statementName(sql: string): string {
  return `concord_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
}

/** node-postgres's per-connection record of the statements it parsed or sent to be parsed. */
interface DriverStatements {
  parsedStatements: Record<string, string>;
  submittedNamedStatements?: Record<string, string>;
}

function driverStatements(client: pg.ClientBase): DriverStatements | undefined {
  const connection = (client as unknown as { connection?: Partial<DriverStatements> }).connection;
  return connection?.parsedStatements ? (connection as DriverStatements) : undefined;
}

/**
 * What the statement of run() is sent as: a name (prepared), unnamed, or a name once the least recently
 * used statement of the connection is deallocated (only on a connection that is not pipelined).
 */
type Naming = { name: string | undefined; evict?: undefined } | { name: string; evict: { sql: string; name: string } };

class PreparedStatements {
  /** Texts seen in this process (at most SEEN_TEXTS, oldest forgotten first) and their statement names. */
  private readonly seen = new Map<string, string | undefined>();
  /** Per connection: text -> name of what it holds, least recently used first. */
  private readonly held = new WeakMap<pg.ClientBase, Map<string, string>>();

  /** Connections on which a transaction found no room for a text (makeRoom). */
  private readonly short = new WeakSet<pg.ClientBase>();

  constructor(private readonly max: number) {}

  /**
   * How to run sql on client. Synchronous, so that statements reach the connection in the order they
   * were issued (a transaction pipelines them). A pipelined connection never deallocates: a DEALLOCATE
   * sent there behind a statement that failed is refused ("current transaction is aborted") while the
   * statement stays, so its text runs unnamed when the connection is full.
   */
  nameFor(client: pg.ClientBase, sql: string, pipelined: boolean): Naming {
    if (this.max <= 0) return { name: undefined };
    let held = this.held.get(client);
    if (!held) this.held.set(client, (held = new Map<string, string>()));
    const name = held.get(sql);
    if (name !== undefined) {
      held.delete(sql);
      held.set(sql, name);
      return { name };
    }
    if (!this.seen.has(sql)) {
      if (this.seen.size >= SEEN_TEXTS) this.seen.delete(this.seen.keys().next().value!);
      this.seen.set(sql, undefined);
      return { name: undefined };
    }
    let fresh = this.seen.get(sql);
    if (fresh === undefined) this.seen.set(sql, (fresh = statementName(sql)));
    if (held.size < this.max) {
      held.set(sql, fresh);
      return { name: fresh };
    }
    // node-postgres would Bind a deallocated name unless its record goes too: without that record
    // (another driver version), nothing is evicted and new texts run unnamed.
    if (!driverStatements(client)) return { name: undefined };
    if (pipelined) {
      this.short.add(client);
      return { name: undefined };
    }
    const [oldSql, oldName] = held.entries().next().value!;
    // Out of the LRU at once, so that no other statement is sent under it while it is deallocated.
    held.delete(oldSql);
    held.set(sql, fresh);
    return { name: fresh, evict: { sql: oldSql, name: oldName } };
  }

  /**
   * Deallocates a statement on an idle (not pipelined) client, waiting for the answer: the driver's
   * record goes only once the server no longer holds the statement, so the two never disagree. False
   * when it is still held (the statement to run then runs unnamed).
   */
  async evict(client: pg.ClientBase, sql: string | undefined, victim: { sql: string; name: string }): Promise<boolean> {
    const driver = driverStatements(client)!;
    // Never parsed here (its Parse failed): the server does not hold it either.
    if (driver.parsedStatements[victim.name] === undefined && driver.submittedNamedStatements?.[victim.name] === undefined) return true;
    try {
      await client.query(`DEALLOCATE ${victim.name}`);
    } catch (err) {
      // 26000: the server did not hold it; anything else: it still does, and stays in the LRU in place
      // of the text that needed the room.
      if (sqlStateOf(err) !== INVALID_STATEMENT_NAME) {
        const held = this.held.get(client);
        if (sql !== undefined) held?.delete(sql);
        held?.set(victim.sql, victim.name);
        return false;
      }
    }
    delete driver.parsedStatements[victim.name];
    if (driver.submittedNamedStatements) delete driver.submittedNamedStatements[victim.name];
    return true;
  }

  /**
   * After a transaction that found client full (its new texts ran unnamed), with client idle again:
   * deallocates the least recently used statement, so that the next transaction can prepare its text.
   * Otherwise a write text that searches pushed out would never be prepared on that connection again.
   */
  async makeRoom(client: pg.ClientBase): Promise<void> {
    if (!this.short.delete(client)) return;
    const held = this.held.get(client);
    if (!held || held.size < this.max) return;
    const [sql, name] = held.entries().next().value!;
    held.delete(sql);
    await this.evict(client, undefined, { sql, name });
  }

  /**
   * Re-aligns the driver's record with the server after a named statement failed because they
   * disagreed (a defence: nothing above lets them): 42P05, the server already holds the name (the same
   * text, names being its hash), is adopted; 26000, the server does not hold it, is forgotten, so the
   * next use parses it again.
   */
  repair(client: pg.ClientBase, sql: string, name: string, err: unknown): void {
    const driver = driverStatements(client);
    const state = sqlStateOf(err);
    if (!driver) return;
    if (state === DUPLICATE_PREPARED_STATEMENT) {
      driver.parsedStatements[name] = sql;
    } else if (state === INVALID_STATEMENT_NAME) {
      delete driver.parsedStatements[name];
      if (driver.submittedNamedStatements) delete driver.submittedNamedStatements[name];
    }
  }

  /** How many statements client holds (tests). */
  count(client: pg.ClientBase): number {
    return this.held.get(client)?.size ?? 0;
  }
}

const DUPLICATE_PREPARED_STATEMENT = '42P05';
const INVALID_STATEMENT_NAME = '26000';

type TimeoutKind = 'search-timeout' | 'write-timeout';

/**
 * Runs one statement on client; an abort closes the connection (the server then stops the query).
 * pipelined: the client is in pipeline mode (a transaction), where nothing may be awaited before the
 * statement is queued: call order is wire order.
 */
async function run(
  client: pg.ClientBase,
  sql: string,
  params: unknown[] | undefined,
  options: QueryOptions | undefined,
  timeout: TimeoutKind,
  prepared: PreparedStatements,
  pipelined: boolean,
): Promise<pg.QueryResult> {
  const signal = options?.signal;
  const onAbort = (): void => void (client as pg.Client).end().catch(() => undefined);
  let name: string | undefined;
  try {
    signal?.throwIfAborted();
    signal?.addEventListener('abort', onAbort, { once: true });
    const naming: Naming = options?.prepare ? prepared.nameFor(client, sql, pipelined) : { name: undefined };
    name = naming.name;
    if (naming.evict && !(await prepared.evict(client, sql, naming.evict))) name = undefined;
    return name ? await client.query({ name, text: sql, values: params ?? [] }) : await client.query(sql, params);
  } catch (err) {
    if (name) prepared.repair(client, sql, name, err);
    throw classify(err, { timeout, signal });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

function wrap(client: pg.ClientBase, timeout: TimeoutKind, prepared: PreparedStatements, pipelined = false): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<T>> {
      const res = await run(client, sql, params, options, timeout, prepared, pipelined);
      return { rows: res.rows as T[], rowCount: res.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await run(client, sql, undefined, undefined, timeout, prepared, pipelined);
    },
  };
}

function timeoutMs(ms: number | undefined): number {
  if (ms === undefined) return 0;
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`invalid statement timeout ${ms}`);
  return ms;
}

export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const { schema } = options;
  if (schema && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const connection: pg.ClientConfig = {
    connectionString: options.connectionString,
    ...(options.applicationName ? { application_name: options.applicationName } : {}),
    fallback_application_name: 'concord',
    // Notices a server that vanished without closing the socket (host down, network cut).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  const pool = new pg.Pool({
    ...connection,
    max: options.max ?? 20,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS,
    ...(options.statementTimeoutMs ? { statement_timeout: timeoutMs(options.statementTimeoutMs) } : {}),
    // A schema per test file: every pooled connection resolves unqualified names there first, and
    // extensions installed in public stay visible.
    options: [`-c client_connection_check_interval=${CLIENT_CHECK_INTERVAL_MS}`, ...(schema ? [`-c search_path=${schema},public`] : [])].join(' '),
  });
  // An idle client that errors (e.g. the server restarts) must not crash the process; pg-pool drops it.
  pool.on('error', () => undefined);
  // pg-pool takes its own listener off a client before handing it out, and the borrower can only add
  // one a microtask later: a session terminated right as it is handed over (a FATAL in the same packet
  // as ReadyForQuery) would be an unhandled 'error' that ends the process. A listener for the client's
  // whole life closes that gap; pg-pool still discards the broken client on release.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const probe = new HealthProbe(connection);
  const listener = new SharedListener(connection);
  const prepared = new PreparedStatements(options.maxPreparedStatements ?? DEFAULT_MAX_PREPARED_STATEMENTS);

  /**
   * Holds one pooled client for fn. While checked out, pg-pool listens for nothing on it: a session
   * terminated between two statements would emit an unhandled 'error' and end the process, so the
   * error is caught here, and a broken client is destroyed on release instead of reused.
   */
  async function withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw classify(err, { timeout: 'search-timeout' });
    }
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken ??= err;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      if (isConnectionError(err)) broken ??= err instanceof Error ? err : new Error('connection error');
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  try {
    await connectWithRetry(() => withClient((c) => c.query(schema ? `CREATE SCHEMA IF NOT EXISTS ${schema}` : 'SELECT 1')), {
      timeoutMs: options.connectTimeoutMs ?? 0,
      where: options.connectionString,
      ...(options.onConnectRetry ? { onRetry: options.onConnectRetry } : {}),
    });
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }

  return {
    kind: 'postgres',
    namespace: schema ?? 'public',
    listen: (channel, onMessage, onLost) => listener.listen(channel, onMessage, onLost),
    query: (sql, params, queryOptions) => withClient((c) => wrap(c, 'search-timeout', prepared).query(sql, params, queryOptions)),
    exec: (sql) => withClient((c) => wrap(c, 'search-timeout', prepared).exec(sql)),
    async transaction<T>(fn: (tx: TransactionQueryable) => Promise<T>, txOptions?: TransactionOptions): Promise<T> {
      return withClient(async (client) => {
        const conn = wrap(client, 'write-timeout', prepared, true);
        // Pipeline mode while this transaction holds the client (it is idle now and is idle again when
        // COMMIT or ROLLBACK answered): statements issued without waiting go out behind each other. Set
        // inside the try, so that the finally always takes it off before the client returns to the pool.
        const pipelined = client as unknown as { pipeline: boolean };
        // Statements sent but not yet waited for (commitsOnlyAfter). BEGIN is one: it travels with the
        // transaction's first statement instead of costing a round trip of its own. The pool's
        // statement_timeout (meant for reads) is replaced for this transaction in the same message.
        const inFlight = new InFlight();
        const tx: TransactionQueryable = {
          query: <R>(sql: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<R>> => inFlight.run(() => conn.query<R>(sql, params, options)),
          exec: (sql: string): Promise<void> => inFlight.run(() => conn.exec(sql)),
          commitsOnlyAfter: (statement) => inFlight.add(statement),
        };
        try {
          pipelined.pipeline = true;
          inFlight.add(conn.exec(`BEGIN; SET LOCAL statement_timeout = ${timeoutMs(txOptions?.timeoutMs)}`));
          // Closed once fn is done: a statement issued later (a callback fn did not wait for) would go out
          // after COMMIT, or on this connection once another request holds it; it is refused unsent.
          const result = await fn(tx).finally(() => inFlight.close());
          // COMMIT goes out behind what is still in flight; after a failure there PostgreSQL answers it
          // with ROLLBACK, so it can only commit what succeeded.
          const commit = run(client, 'COMMIT', undefined, undefined, 'write-timeout', prepared, true);
          commit.catch(() => undefined);
          await inFlight.all();
          const done = await commit;
          if (done.command !== 'COMMIT') throw new Error(`the transaction ended with ${done.command ?? 'nothing'} instead of COMMIT`);
          return result;
        } catch (err) {
          inFlight.close();
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          pipelined.pipeline = false;
          await prepared.makeRoom(client);
        }
      });
    },
    async snapshot<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      return withClient(async (client) => {
        // Pipeline mode, as in a transaction: fn may issue several reads at once (a form's directory
        // reads), which then go out behind each other instead of one round trip each; so no prepared
        // statement is deallocated here (that needs an idle client).
        const conn = wrap(client, 'search-timeout', prepared, true);
        const pipelined = client as unknown as { pipeline: boolean };
        try {
          pipelined.pipeline = true;
          await conn.exec('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          const result = await fn(conn);
          await conn.exec('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          pipelined.pipeline = false;
          await prepared.makeRoom(client);
        }
      });
    },
    async withSessionLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T> {
      return withClient(async (client) => {
        const conn = wrap(client, 'write-timeout', prepared);
        // Waiting for another instance's migrations may take long; the read timeout must not apply.
        await conn.exec('SET statement_timeout = 0');
        await conn.query('SELECT pg_advisory_lock($1)', [key]);
        try {
          return await fn(conn);
        } finally {
          await conn.query('SELECT pg_advisory_unlock($1)', [key]);
          await conn.exec('RESET statement_timeout');
        }
      });
    },
    async ping(timeout = 1000): Promise<void> {
      try {
        await probe.ping(timeout);
      } catch (err) {
        throw classify(err, { timeout: 'search-timeout' });
      }
    },
    async close(): Promise<void> {
      await probe.close();
      await pool.end();
    },
  };
}

import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Database, Queryable, QueryOptions, QueryResult } from './database.js';

// int8 (bigint) arrives as a string by default; Concord's bigints (rids, sequence numbers) stay far
// below 2^53, so they are parsed to numbers once here rather than at every call site.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PostgresOptions {
  connectionString: string;
  /** Schema to create and use (tests isolate each file in its own schema). */
  schema?: string;
  max?: number;
}

const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `concord_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    statementNames.set(sql, name);
  }
  return name;
}

function wrap(client: pg.ClientBase | pg.Pool): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<T>> {
      const res = options?.prepare
        ? await client.query({ name: statementName(sql), text: sql, values: params ?? [] })
        : await client.query(sql, params);
      return { rows: res.rows as T[], rowCount: res.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const { schema } = options;
  if (schema && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 20,
    // A schema per test file: every pooled connection resolves unqualified names there first, and
    // extensions installed in public stay visible.
    ...(schema ? { options: `-c search_path=${schema},public` } : {}),
  });
  // An idle client that errors (e.g. the server restarts) must not crash the process.
  pool.on('error', () => undefined);
  if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  const root = wrap(pool);

  return {
    kind: 'postgres',
    namespace: schema ?? 'public',
    async listen(channel, onMessage, onLost) {
      const client = new pg.Client({ connectionString: options.connectionString });
      let lost = false;
      const fail = (err: unknown): void => {
        if (lost) return;
        lost = true;
        onLost(err);
      };
      client.on('error', fail);
      client.on('end', () => fail(new Error('listen connection ended')));
      client.on('notification', (msg) => {
        if (msg.channel === channel) onMessage(msg.payload ?? '');
      });
      await client.connect();
      await client.query(`LISTEN ${pg.Client.prototype.escapeIdentifier(channel)}`);
      return async () => {
        lost = true;
        await client.end().catch(() => undefined);
      };
    },
    query: (sql, params, options) => root.query(sql, params, options),
    exec: (sql) => root.exec(sql),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async withSessionLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [key]);
        try {
          return await fn(wrap(client));
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [key]);
        }
      } finally {
        client.release();
      }
    },
    async ping(): Promise<void> {
      await pool.query('SELECT 1');
    },
    async close(): Promise<void> {
      await pool.end();
    },
  };
}

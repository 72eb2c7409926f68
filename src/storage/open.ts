import { mkdir } from 'node:fs/promises';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { databaseLocation } from './pg-connect.js';
import { openPostgres } from './postgres.js';

export interface OpenOptions {
  databaseUrl?: string;
  dataDir: string;
  schema?: string;
  /** PostgreSQL only (see PostgresOptions). */
  databaseConnectTimeoutMs?: number;
  dbAcquireTimeoutMs?: number;
  searchTimeoutMs?: number;
  pgPreparedStatements?: number;
  onConnectRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** PostgreSQL when a URL is given, else embedded PGlite persisted in dataDir ('memory://' = in memory). */
export async function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.databaseUrl) {
    return openPostgres({
      connectionString: options.databaseUrl,
      ...(options.schema ? { schema: options.schema } : {}),
      ...(options.databaseConnectTimeoutMs !== undefined ? { connectTimeoutMs: options.databaseConnectTimeoutMs } : {}),
      ...(options.dbAcquireTimeoutMs !== undefined ? { acquireTimeoutMs: options.dbAcquireTimeoutMs } : {}),
      ...(options.searchTimeoutMs !== undefined ? { statementTimeoutMs: options.searchTimeoutMs } : {}),
      ...(options.pgPreparedStatements !== undefined ? { maxPreparedStatements: options.pgPreparedStatements } : {}),
      ...(options.onConnectRetry ? { onConnectRetry: options.onConnectRetry } : {}),
    });
  }
  if (options.dataDir === 'memory://') return openPglite();
  await mkdir(options.dataDir, { recursive: true });
  return openPglite(options.dataDir);
}

/** For logs: where the data lives, without credentials. */
export function describeStore(options: { databaseUrl?: string; dataDir: string }): string {
  if (!options.databaseUrl) return `embedded PGlite (${options.dataDir})`;
  return `PostgreSQL ${databaseLocation(options.databaseUrl)}`;
}

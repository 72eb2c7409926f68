// Isolated databases for tests: a fresh schema per call on PostgreSQL, a fresh in-memory PGlite
// otherwise. Always close what you open (PGlite keeps the process alive and holds ~850 MB).
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { Database } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { openPglite } from '../../src/storage/pglite.js';
import { openPostgres, type PostgresOptions } from '../../src/storage/postgres.js';

export type Backend = 'postgres' | 'pglite';

export function postgresUrl(): string | undefined {
  return inject('databaseUrl') || undefined;
}

/** The backends storage tests run against: both when PostgreSQL is available, else PGlite only. */
export function storageBackends(): Backend[] {
  return postgresUrl() ? ['postgres', 'pglite'] : ['pglite'];
}

/** The backend HTTP integration tests use: real PostgreSQL when available. */
export function defaultBackend(): Backend {
  return postgresUrl() ? 'postgres' : 'pglite';
}

/** PostgreSQL pool options a test may set (fault tests: a small pool, short timeouts, a unique application_name). */
export type TestDatabaseOptions = Pick<PostgresOptions, 'max' | 'applicationName' | 'acquireTimeoutMs' | 'statementTimeoutMs'>;

export async function openTestDatabase(backend: Backend = defaultBackend(), options: TestDatabaseOptions = {}): Promise<Database> {
  let db: Database;
  if (backend === 'postgres') {
    const url = postgresUrl();
    if (!url) throw new Error('no PostgreSQL available for this test run');
    const schema = `t_${randomBytes(6).toString('hex')}`;
    // Integration tests check outcomes, not latency: on a loaded shared machine hundreds of parallel
    // requests may queue for a connection longer than the production acquire timeout (a 503 there).
    const inner = await openPostgres({ connectionString: url, schema, acquireTimeoutMs: 60_000, ...options });
    db = {
      ...inner,
      async close() {
        await inner.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
        await inner.close();
      },
    };
  } else {
    db = await openPglite();
  }
  await migrate(db);
  return db;
}

import { mkdir } from 'node:fs/promises';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

/** PostgreSQL when a URL is given, else embedded PGlite persisted in dataDir ('memory://' = in memory). */
export async function openDatabase(options: { databaseUrl?: string; dataDir: string; schema?: string }): Promise<Database> {
  if (options.databaseUrl) {
    return openPostgres({ connectionString: options.databaseUrl, ...(options.schema ? { schema: options.schema } : {}) });
  }
  if (options.dataDir === 'memory://') return openPglite();
  await mkdir(options.dataDir, { recursive: true });
  return openPglite(options.dataDir);
}

/** For logs: where the data lives, without credentials. */
export function describeStore(options: { databaseUrl?: string; dataDir: string }): string {
  if (!options.databaseUrl) return `embedded PGlite (${options.dataDir})`;
  try {
    const u = new URL(options.databaseUrl);
    return `PostgreSQL ${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

// Forward-only SQL migrations from migrations/NNNN_name.sql, applied in name order, each in its own
// transaction and recorded in schema_migration. A session advisory lock keeps two starting servers
// from applying the same migration twice.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectPath } from '../paths.js';
import type { Database } from './database.js';

const MIGRATION_LOCK_KEY = 0x0c0c0a1; // arbitrary constant shared by every Concord process
export const MIGRATIONS_DIR = projectPath('migrations');

export interface Migration {
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => /^\d{4}_[a-z0-9_]+\.sql$/.test(n)).sort();
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(dir, name), 'utf8') })));
}

/** Applies pending migrations; returns the names applied now. */
export async function migrate(db: Database, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await loadMigrations());
  return db.withSessionLock(MIGRATION_LOCK_KEY, async (conn) => {
    await conn.query(
      `CREATE TABLE IF NOT EXISTS schema_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set((await conn.query<{ name: string }>('SELECT name FROM schema_migration')).rows.map((r) => r.name));
    const applied: string[] = [];
    for (const m of all) {
      if (done.has(m.name)) continue;
      await db.transaction(async (tx) => {
        await tx.exec(m.sql);
        await tx.query('INSERT INTO schema_migration (name) VALUES ($1)', [m.name]);
      });
      applied.push(m.name);
    }
    return applied;
  });
}

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/storage/migrate.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { openTestDatabase, postgresUrl, storageBackends } from '../support/db.js';

describe.each(storageBackends())('migrations on %s', (backend) => {
  it('applies every migration once and is a no-op the second time', async () => {
    const db = await openTestDatabase(backend); // already migrated
    try {
      const all = (await loadMigrations()).map((m) => m.name);
      expect(all[0]).toBe('0001_resources.sql');
      const recorded = await db.query<{ name: string }>('SELECT name FROM schema_migration ORDER BY name');
      expect(recorded.rows.map((r) => r.name)).toEqual(all);
      expect(await migrate(db)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

// Without PostgreSQL there is no second connection to race with (PGlite is single-connection).
describe.skipIf(!postgresUrl())('concurrent startup', () => {
  it('two servers migrating the same empty PostgreSQL schema at once apply each migration exactly once', async () => {
    const url = postgresUrl()!;
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const a = await openPostgres({ connectionString: url, schema });
    const b = await openPostgres({ connectionString: url, schema });
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      const all = (await loadMigrations()).map((m) => m.name);
      expect([...ra, ...rb].sort()).toEqual(all);
      const recorded = await a.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migration');
      expect(recorded.rows[0]!.n).toBe(all.length);
    } finally {
      await a.query(`DROP SCHEMA ${schema} CASCADE`);
      await Promise.all([a.close(), b.close()]);
    }
  });
});

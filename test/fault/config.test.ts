// The database robustness settings: defaults, overrides, and refusal of values that would misbehave.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { describeStore } from '../../src/storage/open.js';

describe('database robustness settings', () => {
  it('defaults: 30 s start-up retries, 5 s pool acquire, 10 s searches, 30 s writes', () => {
    expect(loadConfig({})).toMatchObject({ databaseConnectTimeoutMs: 30_000, dbAcquireTimeoutMs: 5000, searchTimeoutMs: 10_000, writeTimeoutMs: 30_000 });
  });

  it('reads overrides (0 = no statement timeout) and refuses nonsense', () => {
    const c = loadConfig({ DATABASE_CONNECT_TIMEOUT: '2', DB_ACQUIRE_TIMEOUT_MS: '250', SEARCH_TIMEOUT_MS: '0', WRITE_TIMEOUT_MS: '1000' });
    expect(c).toMatchObject({ databaseConnectTimeoutMs: 2000, dbAcquireTimeoutMs: 250, searchTimeoutMs: 0, writeTimeoutMs: 1000 });
    expect(() => loadConfig({ DB_ACQUIRE_TIMEOUT_MS: '0' })).toThrow(/DB_ACQUIRE_TIMEOUT_MS/);
    expect(() => loadConfig({ SEARCH_TIMEOUT_MS: '1.5' })).toThrow(/SEARCH_TIMEOUT_MS/);
  });

  it('accepts postgres:// and postgresql:// URLs only, and never echoes the value (it may hold a password)', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:p@db:5433/concord' }).databaseUrl).toBe('postgresql://u:p@db:5433/concord');
    for (const bad of ['not-a-url', 'http://u:hunter2@db/concord', 'db:5432']) {
      expect(() => loadConfig({ DATABASE_URL: bad })).toThrow(/^DATABASE_URL must be a PostgreSQL URL/);
      try {
        loadConfig({ DATABASE_URL: bad });
      } catch (err) {
        expect((err as Error).message).not.toContain('hunter2');
      }
    }
  });

  it('names the store by host:port/database, without credentials', () => {
    expect(describeStore({ databaseUrl: 'postgres://u:secret@db.internal:5433/concord', dataDir: 'x' })).toBe('PostgreSQL db.internal:5433/concord');
  });
});

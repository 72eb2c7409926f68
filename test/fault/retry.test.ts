// Which failures are retried: a read whose connection died is retried once on a fresh connection; a
// write never is (its COMMIT may have happened); a timeout or a cancellation is not a connection fault.
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/fhir/store-unavailable.js';
import type { Database, QueryResult } from '../../src/storage/database.js';
import { classify } from '../../src/storage/faults.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';

const row = { resource_type: 'Patient', id: 'p1', version_id: 1, last_updated: '2026-01-01T00:00:00.000Z', deleted: false, content: '{}' };

/** A PGlite-kind store whose first `failures` statements fail the way a terminated session does. */
function flakyDatabase(failures: number): Database & { statements: number; transactions: number } {
  const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
  const lost = (timeout: 'search-timeout' | 'write-timeout'): StoreUnavailableError => classify(terminated, { timeout }) as StoreUnavailableError;
  const db = {
    kind: 'pglite' as const,
    namespace: 'public',
    statements: 0,
    transactions: 0,
    query<T>(): Promise<QueryResult<T>> {
      db.statements++;
      if (db.statements <= failures) return Promise.reject(lost('search-timeout'));
      return Promise.resolve({ rows: [row as T], rowCount: 1 });
    },
    exec: () => Promise.resolve(),
    transaction<T>(): Promise<T> {
      db.transactions++;
      return Promise.reject(lost('write-timeout'));
    },
    withSessionLock: <T>(_key: number, fn: (q: Database) => Promise<T>): Promise<T> => fn(db),
    snapshot: <T>(fn: (q: Database) => Promise<T>): Promise<T> => fn(db),
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return db;
}

describe('retries after a lost connection', () => {
  it('retries a read once', async () => {
    const db = flakyDatabase(1);
    const repo = new ResourceRepository(db, { readCacheEntries: 0 });
    expect((await repo.read('Patient', 'p1'))?.id).toBe('p1');
    expect(db.statements).toBe(2);
  });

  it('gives up after the second failure with a 503-able error', async () => {
    const db = flakyDatabase(2);
    const repo = new ResourceRepository(db, { readCacheEntries: 0 });
    await expect(repo.read('Patient', 'p1')).rejects.toMatchObject({ name: 'StoreUnavailableError', reason: 'connection' });
    expect(db.statements).toBe(2);
  });

  it('never retries a write', async () => {
    const db = flakyDatabase(0);
    const repo = new ResourceRepository(db, { readCacheEntries: 0 });
    await expect(repo.transaction(() => Promise.resolve())).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(db.transactions).toBe(1);
  });
});

describe('classifying driver errors', () => {
  const timeout = { timeout: 'search-timeout' as const };
  it('maps connection faults, pool exhaustion, timeouts and cancellations; leaves SQL errors alone', () => {
    expect(classify(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }), timeout)).toMatchObject({ reason: 'connection' });
    expect(classify(new Error('Connection terminated unexpectedly'), timeout)).toMatchObject({ reason: 'connection' });
    expect(classify(new Error('timeout exceeded when trying to connect'), timeout)).toMatchObject({ reason: 'busy' });
    expect(classify(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }), { timeout: 'write-timeout' })).toMatchObject({ reason: 'write-timeout' });
    const aborted = AbortSignal.abort();
    expect(classify(Object.assign(new Error('x'), { code: '57014' }), { ...timeout, signal: aborted })).toMatchObject({ reason: 'cancelled' });
    const unique = Object.assign(new Error('duplicate key'), { code: '23505' });
    expect(classify(unique, timeout)).toBe(unique);
  });
});

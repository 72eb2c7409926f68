// Bounded work per request: slow searches cannot make other requests or the probes hang, a search
// that outlives its statement timeout is stopped and says so, a write that does is rolled back, and a
// client that goes away takes its running query with it.
import { request as httpRequest } from 'node:http';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, expectTransient503, hasPostgres, patient, runningStatements, slowSearches, startFaultServer, waitFor, type FaultServer } from './support.js';

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - started };
}

describe.skipIf(!hasPostgres)('a pool exhausted by slow searches', () => {
  let s: FaultServer;
  let admin: pg.Client;
  beforeAll(async () => {
    admin = await adminClient();
    s = await startFaultServer('exhausted', {
      db: { max: 2, acquireTimeoutMs: 300 },
      // Reads must reach the database (no cache) to show they do not queue behind the searches.
      env: { READ_CACHE_ENTRIES: '0' },
      wrap: slowSearches(3),
    });
  });
  afterAll(async () => {
    await s?.close();
    await admin?.end();
  });

  it('a plain read answers within a second (503 busy, Retry-After), and both probes answer', async () => {
    const created = await s.inject('POST', '/fhir/Patient', patient('Busy'));
    expect(created.statusCode).toBe(201);
    const id = (JSON.parse(created.body) as { id: string }).id;
    const searches = Array.from({ length: 3 }, () => s.inject('GET', '/fhir/Patient?family=Busy'));
    await waitFor('both pooled connections to run a slow search', async () => (await runningStatements(admin, s.appName)).filter((q) => q.includes('pg_sleep')).length === 2);

    const read = await timed(() => s.inject('GET', `/fhir/Patient/${id}`));
    expect(read.ms).toBeLessThan(1000);
    if (read.value.statusCode !== 200) {
      expectTransient503(read.value);
      expect(read.value.body).toContain('busy');
    }
    const ready = await timed(() => s.app.inject({ method: 'GET', url: '/readyz' }));
    expect(ready.ms).toBeLessThan(1500);
    expect(ready.value.statusCode).toBe(200);
    const health = await timed(() => s.app.inject({ method: 'GET', url: '/healthz' }));
    expect(health.ms).toBeLessThan(100);
    expect(health.value.statusCode).toBe(200);

    // The queued third search gave up waiting for a connection instead of hanging.
    const statuses = (await Promise.all(searches)).map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 200, 503]);
  });
});

describe.skipIf(!hasPostgres)('statement timeouts', () => {
  let s: FaultServer;
  let admin: pg.Client;
  beforeAll(async () => {
    admin = await adminClient();
    s = await startFaultServer('timeouts', { db: { statementTimeoutMs: 500 }, env: { WRITE_TIMEOUT_MS: '500' }, wrap: slowSearches(5) });
  });
  afterAll(async () => {
    await s?.close();
    await admin?.end();
  });

  it('a search that outlives SEARCH_TIMEOUT_MS is stopped: 503 too-costly, no Retry-After', async () => {
    const res = await timed(() => s.inject('GET', '/fhir/Patient?family=Slow'));
    expect(res.ms).toBeLessThan(2500);
    expect(res.value.statusCode).toBe(503);
    expect(res.value.headers['retry-after']).toBeUndefined();
    expect(JSON.parse(res.value.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'too-costly' }] });
    expect(await runningStatements(admin, s.appName)).toEqual([]);
  });

  it('a write that outlives WRITE_TIMEOUT_MS (blocked by a lock) is rolled back: 503 timeout with Retry-After', async () => {
    await admin.query('BEGIN');
    try {
      await admin.query(`LOCK TABLE ${s.db.namespace}.resource IN ACCESS EXCLUSIVE MODE`);
      const res = await timed(() => s.inject('POST', '/fhir/Patient', patient('Blocked')));
      expect(res.ms).toBeLessThan(2500);
      expect(res.value.statusCode).toBe(503);
      expect(res.value.headers['retry-after']).toMatch(/^\d+$/);
      expect(JSON.parse(res.value.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'timeout' }] });
    } finally {
      await admin.query('ROLLBACK');
    }
    const stored = await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'");
    expect(stored.rows[0]?.n).toBe(0);
  });
});

describe.skipIf(!hasPostgres)('a client that disconnects mid-search', () => {
  let s: FaultServer;
  let admin: pg.Client;
  let port: number;
  beforeAll(async () => {
    admin = await adminClient();
    s = await startFaultServer('disconnect', { wrap: slowSearches(30) });
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    port = (s.app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await s?.close();
    await admin?.end();
  });

  it('leaves no running query behind', async () => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/fhir/Patient?family=Gone', method: 'GET' });
    req.on('error', () => undefined);
    req.end();
    await waitFor('the slow search to run', async () => (await runningStatements(admin, s.appName)).some((q) => q.includes('pg_sleep')));
    req.destroy();
    // Cancelled at once; at worst the server notices the closed connection within its check interval.
    await waitFor('the search to stop', async () => (await runningStatements(admin, s.appName)).length === 0, 3000);
    // The server is still fully usable.
    expect((await s.inject('POST', '/fhir/Patient', patient('After'))).statusCode).toBe(201);
  });
});

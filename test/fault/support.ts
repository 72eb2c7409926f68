// Fault tests run a Concord whose connections carry a unique application_name, so that an admin
// connection can terminate or inspect exactly that server's sessions on a shared PostgreSQL (never
// anyone else's).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { testConfig } from '../support/server.js';
import { createServer, type Server } from '../../src/server.js';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase, postgresUrl, type TestDatabaseOptions } from '../support/db.js';

export const hasPostgres = postgresUrl() !== undefined;

export function uniqueAppName(label: string): string {
  return `concord_fault_${label}_${randomBytes(4).toString('hex')}`;
}

export interface FaultServer extends Server {
  db: Database;
  appName: string;
  inject(method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown): Promise<LightMyRequestResponse>;
}

export async function startFaultServer(
  label: string,
  options: { db?: TestDatabaseOptions; env?: Record<string, string>; wrap?: (db: Database) => Database } = {},
): Promise<FaultServer> {
  const appName = uniqueAppName(label);
  const opened = await openTestDatabase('postgres', { max: 8, ...options.db, applicationName: appName });
  const db = options.wrap ? options.wrap(opened) : opened;
  const server = await createServer(testConfig(options.env), false, db);
  await server.app.ready();
  return {
    ...server,
    db,
    appName,
    inject: (method, url, body) =>
      server.app.inject({
        method,
        url,
        ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { 'content-type': 'application/fhir+json' } }),
      }),
  };
}

/** A connection outside the server under test, for pg_terminate_backend and pg_stat_activity. */
export async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: postgresUrl(), application_name: 'concord_fault_admin' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Terminates every session of the server named appName; returns how many. */
export async function terminateSessions(admin: pg.Client, appName: string): Promise<number> {
  const res = await admin.query<{ ok: boolean }>(
    'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [appName],
  );
  return res.rows.filter((r) => r.ok).length;
}

/** Statements of appName's sessions that are running now (not idle). */
export async function runningStatements(admin: pg.Client, appName: string): Promise<string[]> {
  // A failed answer's AuditEvent is stored just after the answer (not waited for): not the request's work.
  // Nor is the read fence's heartbeat (src/storage/read-fence.ts: a pg_notify every few seconds on the same
  // pool), which a check can catch in flight, notably right after a cancelled statement freed its connection.
  const res = await admin.query<{ query: string }>(
    "SELECT query FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND pid <> pg_backend_pid() AND query NOT LIKE 'INSERT INTO audit_event %' AND query <> 'SELECT pg_notify($1, $2)'",
    [appName],
  );
  return res.rows.map((r) => r.query);
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The only acceptable failure while the database misbehaves: 503, an OperationOutcome, Retry-After. */
export function expectTransient503(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBe(503);
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  const body = JSON.parse(res.body) as { resourceType: string; issue: { code: string }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue[0]?.code).toBe('transient');
}

/**
 * Makes every search page query slow (a pg_sleep before it runs), standing in for a genuinely costly
 * search without having to load a large data set.
 */
export function slowSearches(seconds: number): (db: Database) => Database {
  return (db) => ({
    ...db,
    query: (sql, params, options) =>
      /^SELECT a\.rid, a\.resource_type/.test(sql.trimStart())
        ? // An uncorrelated subquery is a one-time filter: it sleeps even when nothing matches.
          db.query(`SELECT q.* FROM (${sql}) q WHERE (SELECT true FROM pg_sleep(${seconds}))`, params, options)
        : db.query(sql, params, options),
  });
}

export const patient = (family: string): Record<string, unknown> => ({ resourceType: 'Patient', name: [{ family }] });

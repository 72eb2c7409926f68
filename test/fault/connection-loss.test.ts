// PostgreSQL drops Concord's connections (pg_terminate_backend, as a restart or a failover would):
// the process stays up, affected requests get 503 + Retry-After, nothing is half-written, and the pool,
// the readiness probe and the read cache's LISTEN connection all heal without restarting Concord.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/storage/postgres.js';
import { postgresUrl } from '../support/db.js';
import { testConfig } from '../support/server.js';
import { createServer, type Server } from '../../src/server.js';
import { adminClient, expectTransient503, hasPostgres, patient, startFaultServer, terminateSessions, uniqueAppName, waitFor, type FaultServer } from './support.js';

describe.skipIf(!hasPostgres)('connections terminated by PostgreSQL', () => {
  let s: FaultServer;
  let admin: pg.Client;
  beforeAll(async () => {
    admin = await adminClient();
    s = await startFaultServer('terminate');
  });
  afterAll(async () => {
    await s?.close();
    await admin?.end();
  });

  it('during concurrent writes and reads: only 503s with Retry-After, every 201 readable, no partial write', async () => {
    const created: string[] = [];
    const failures: Awaited<ReturnType<FaultServer['inject']>>[] = [];
    let stop = false;
    const client = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const write = await s.inject('POST', '/fhir/Patient', patient(`Fault${n}x${i}`));
        if (write.statusCode === 201) created.push((JSON.parse(write.body) as { id: string }).id);
        else failures.push(write);
        const read = await s.inject('GET', created.length ? `/fhir/Patient/${created[created.length - 1]}` : '/fhir/Patient?_count=5');
        if (read.statusCode !== 200) failures.push(read);
        const search = await s.inject('GET', `/fhir/Patient?family=Fault${n}&_count=5`);
        if (search.statusCode !== 200) failures.push(search);
      }
    };
    let terminated = 0;
    const killer = (async () => {
      for (let round = 0; round < 12; round++) {
        await new Promise((r) => setTimeout(r, 250));
        terminated += await terminateSessions(admin, s.appName);
      }
      stop = true;
    })();
    await Promise.all([killer, ...Array.from({ length: 6 }, (_, n) => client(n))]);

    expect(terminated).toBeGreaterThan(0);
    expect(created.length).toBeGreaterThan(0);
    for (const res of failures) expectTransient503(res);
    // Writes whose connection died mid-flight were answered 503, so some failures must have happened.
    expect(failures.length).toBeGreaterThan(0);

    // Healed: every acknowledged create is there, and no transaction committed only in part.
    for (const id of created) expect((await s.inject('GET', `/fhir/Patient/${id}`)).statusCode).toBe(200);
    const partial = await s.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM resource r
        WHERE r.version_id <> (SELECT count(*) FROM resource_version v WHERE v.resource_type = r.resource_type AND v.id = r.id)
           OR (r.resource_type = 'Patient' AND NOT EXISTS (SELECT 1 FROM search_string x WHERE x.rid = r.rid))`,
    );
    expect(partial.rows[0]?.n).toBe(0);
    const orphans = await s.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM resource_version v WHERE NOT EXISTS (SELECT 1 FROM resource r WHERE r.resource_type = v.resource_type AND r.id = v.id)',
    );
    expect(orphans.rows[0]?.n).toBe(0);
    expect((await s.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe.skipIf(!hasPostgres)('a simulated PostgreSQL restart (every session of the server terminated, LISTEN included)', () => {
  let a: FaultServer;
  let b: Server;
  let admin: pg.Client;
  beforeAll(async () => {
    admin = await adminClient();
    a = await startFaultServer('restart');
    // A second instance on the same schema: its writes reach a's read cache only through LISTEN/NOTIFY.
    const other = await openPostgres({ connectionString: postgresUrl()!, schema: a.db.namespace, max: 4, applicationName: uniqueAppName('restart_b') });
    b = await createServer(testConfig(), false, other);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await admin?.end();
  });

  it('readiness recovers and the read cache becomes coherent again without restarting Concord', async () => {
    const created = await a.inject('POST', '/fhir/Patient', patient('Before'));
    const id = (JSON.parse(created.body) as { id: string }).id;
    expect((await a.inject('GET', `/fhir/Patient/${id}`)).statusCode).toBe(200); // now cached in a
    await waitFor('the listener to be connected', () => a.repository.cacheCoherent);

    // The LISTEN session, the probe's and the pooled ones.
    expect(await terminateSessions(admin, a.appName)).toBeGreaterThanOrEqual(2);
    await waitFor('the lost listener to switch the cache off', () => !a.repository.cacheCoherent);
    await waitFor('/readyz to answer 200 again', async () => (await a.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200);
    await waitFor('the read cache listener to reconnect', () => a.repository.cacheCoherent);

    const stale = await a.inject('GET', `/fhir/Patient/${id}`); // cached again after reconnecting
    expect(stale.statusCode).toBe(200);
    const update = await b.app.inject({
      method: 'PUT',
      url: `/fhir/Patient/${id}`,
      payload: { ...patient('After'), id },
      headers: { 'content-type': 'application/fhir+json' },
    });
    expect(update.statusCode, update.body).toBe(200);
    await waitFor('instance a to serve b\'s update', async () => {
      const res = await a.inject('GET', `/fhir/Patient/${id}`);
      return (JSON.parse(res.body) as { meta: { versionId: string } }).meta.versionId === '2';
    }, 3000);
  });
});

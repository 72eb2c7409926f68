// Three Concord instances on one PostgreSQL schema, requests spread over them round-robin: the races of
// the one-instance tests keep exact results (the database, not the process, serialises them), and a
// client that writes on one instance and reads on another always sees its write (docs/adr/0016).
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from '../../src/server.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { careTeam, nucc, ORGS, practitioner } from '../unit/coordination/builders.js';
import { clean, member, seed } from '../e2e/coordination/support.js';
import { postgresUrl } from '../support/db.js';
import { FHIR_JSON, startTestServer, testConfig, type TestServer } from '../support/server.js';

const hasPostgres = postgresUrl() !== undefined;
let first: TestServer;
const others: Server[] = [];
let instances: Array<(options: InjectOptions) => ReturnType<TestServer['request']>> = [];

beforeAll(async () => {
  if (!hasPostgres) return;
  // Small pools: three instances plus another test file's server must fit PostgreSQL's 100 connections.
  first = await startTestServer('postgres', {}, { max: 10 });
  for (let i = 0; i < 2; i++) {
    const db = await openPostgres({ connectionString: postgresUrl()!, schema: first.db.namespace, max: 10, acquireTimeoutMs: 60_000 });
    const server = await createServer(testConfig(), false, db);
    await server.app.ready();
    others.push(server);
  }
  instances = [(options: InjectOptions) => first.request(options), ...others.map((o) => (options: InjectOptions) => o.app.inject(options))];
}, 60_000);
afterAll(async () => {
  for (const o of others) await o.close();
  await first?.close();
});

const on = (i: number, options: InjectOptions) => instances[i % instances.length]!(options);

describe.skipIf(!hasPostgres)('three instances on one PostgreSQL', () => {
  it('200 lead attempts for one member spread over three instances: exactly one lands', async () => {
    await seed(first);
    const people = Array.from({ length: 200 }, (_, i) => practitioner(`spread-${i}`, [{ coding: nucc('163W00000X') }]));
    const put = await first.request({
      method: 'POST',
      url: '/fhir',
      payload: { resourceType: 'Bundle', type: 'transaction', entry: people.map((p) => ({ resource: clean(p), request: { method: 'PUT', url: `Practitioner/${p.id ?? ''}` } })) },
    });
    expect(put.statusCode, put.body).toBe(200);
    const m = await member(first, 'spread-lead');
    const results = await Promise.all(
      people.map((p, i) => {
        const { id: _drop, ...team } = careTeam('x', [{ member: p, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] }], { patient: m });
        return on(i, { method: 'POST', url: '/fhir/CareTeam', payload: clean(team), headers: { 'content-type': FHIR_JSON } });
      }),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((c) => c === 201)).toHaveLength(1);
    expect(statuses.filter((c) => c !== 201 && c !== 409 && c !== 422), results.find((r) => r.statusCode >= 500)?.body).toEqual([]);
    for (const r of results.filter((x) => x.statusCode !== 201)) {
      expect((JSON.parse(r.body) as OperationOutcome).issue?.[0]?.details?.coding?.[0]?.code).toBe('single-lead');
    }
    const stored = await on(1, { method: 'GET', url: `/fhir/CareTeam?subject=Patient/${m}&_summary=count` });
    expect((JSON.parse(stored.body) as { total: number }).total).toBe(1);
  });

  it('150 identical conditional creates spread over three instances produce one resource', async () => {
    const body = { resourceType: 'Organization', identifier: [{ system: 'urn:npi', value: '1679576722' }], name: 'Spread MLTC' };
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) => on(i, { method: 'POST', url: '/fhir/Organization', payload: body, headers: { 'if-none-exist': 'identifier=urn:npi|1679576722' } })),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((c) => c === 201)).toHaveLength(1);
    expect(statuses.filter((c) => c === 200)).toHaveLength(149);
    expect(new Set(results.map((r) => (JSON.parse(r.body) as Resource).id)).size).toBe(1);
  });

  it('an update on one instance is what the next read on another instance returns, 300 times in a row', async () => {
    const created = await on(0, { method: 'PUT', url: '/fhir/Patient/raw-spread', payload: { resourceType: 'Patient', id: 'raw-spread', birthDate: '1950-01-01' } });
    expect(created.statusCode).toBe(201);
    const stale: string[] = [];
    for (let n = 2; n <= 301; n++) {
      // Every instance holds the current version in its read cache before the update.
      for (let i = 0; i < 3; i++) expect((await on(i, { method: 'GET', url: '/fhir/Patient/raw-spread' })).statusCode).toBe(200);
      const updated = await on(n, { method: 'PUT', url: '/fhir/Patient/raw-spread', payload: { resourceType: 'Patient', id: 'raw-spread', birthDate: '1950-01-01', multipleBirthInteger: n } });
      expect(updated.statusCode).toBe(200);
      const read = await on(n + 1, { method: 'GET', url: '/fhir/Patient/raw-spread' });
      const version = (JSON.parse(read.body) as Resource).meta?.versionId;
      if (version !== String(n)) stale.push(`${n}: ${version ?? '?'}`);
    }
    expect(stale).toEqual([]);
  });
});

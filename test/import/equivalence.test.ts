// An import stores exactly what one-by-one PUTs of the same resources store: the same bodies (but for
// lastUpdated), history rows, search index rows, coordination facts and search results; and a running
// server's read cache learns of imported versions (change notifications, PostgreSQL).
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { orderFiles } from '../../src/import/files.js';
import { importFiles } from '../../src/import/importer.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { defaultBackend } from '../support/db.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';
import { benchResources, fixtureDir, storedVersions, type FixtureDir } from './fixtures.js';

const TABLES: Record<string, string> = {
  search_token: 'code, system, value, text_norm',
  search_string: 'code, value_norm, value_exact',
  search_date: 'code, low, high',
  search_number: 'code, low, high',
  search_quantity: 'code, low, high, system, unit_code, unit',
  search_reference: 'code, target_type, target_id, url, identifier_system, identifier_value',
  search_uri: 'code, value',
  search_composite: 'code, c1_system, c1_value, c2_system, c2_value, c2_low, c2_high, c2_date_low, c2_date_high',
  coordination_fact: "member_id, kind, key, org, during::text AS during",
  // Organization-scoped access (docs/adr/0008): who may see each member.
  member_access: 'member_id, actor, deny, during::text AS during',
};

const SEARCHES = [
  'CareTeam?subject=Patient/m1-0',
  'CareTeam?participant=PractitionerRole/dir-2&_sort=_id',
  'ServiceRequest?code=http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets|T1019&_sort=_id',
  'EpisodeOfCare?patient=Patient/m0-0&_sort=_id',
  'Patient?family=Member1',
  'CarePlan?subject:Patient.family=Member0',
  'PractitionerRole?organization.name=Bench&_count=100&_sort=_id',
];

describe(`import vs one-by-one PUT on ${defaultBackend()}`, () => {
  let byPut: TestServer;
  let byImport: TestServer;
  let files: FixtureDir;
  const resources: Resource[] = benchResources(2);
  const ids = resources.map((r) => r.id!);

  beforeAll(async () => {
    [byPut, byImport] = await Promise.all([startTestServer(), startTestServer()]);
    files = await fixtureDir();
    // One-by-one, in the order the import takes the files (referenced resources first).
    for (const group of orderFiles([...new Set(resources.map((r) => r.resourceType))].map((t) => ({ resourceType: t, name: t })))) {
      for (const r of resources.filter((x) => x.resourceType === group.resourceType)) {
        const res = await byPut.request({ method: 'PUT', url: `/fhir/${r.resourceType}/${r.id}`, headers: { 'content-type': FHIR_JSON }, payload: JSON.stringify(r) });
        expect(res.statusCode, res.body).toBe(201);
      }
    }
    const summary = await importFiles(await files.export(resources), { store: byImport.repository.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 9, writeChunk: 4 });
    expect(summary.rejected).toBe(0);
  });
  afterAll(async () => {
    await Promise.all([byPut?.close(), byImport?.close()]);
    await files?.remove();
  });

  const rows = async (server: TestServer, table: string): Promise<string[]> => {
    const res = await server.db.query<Record<string, unknown>>(
      `SELECT r.resource_type AS rt, r.id AS rid_, ${TABLES[table]} FROM ${table} t JOIN resource r USING (rid) WHERE r.id = ANY($1::text[])`,
      [ids],
    );
    return res.rows.map((row) => JSON.stringify(row)).sort();
  };

  it.each(Object.keys(TABLES))('%s rows are identical', async (table) => {
    const [a, b] = await Promise.all([rows(byPut, table), rows(byImport, table)]);
    // The bench members have no number, quantity or composite values; every other table gets rows.
    if (!['search_number', 'search_quantity', 'search_composite'].includes(table)) expect(a.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it('stores the same bodies and one PUT version per resource', async () => {
    const [a, b] = await Promise.all([storedVersions(byPut, ids), storedVersions(byImport, ids)]);
    expect(a).toHaveLength(resources.length);
    expect(b).toEqual(a);
  });

  it.each(SEARCHES)('GET %s finds the same resources', async (query) => {
    const ask = async (server: TestServer) => {
      const res = await server.request({ method: 'GET', url: `/fhir/${query}`, headers: { accept: FHIR_JSON } });
      expect(res.statusCode, res.body).toBe(200);
      return (server.json<{ entry?: { resource: Resource }[] }>(res).entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
    };
    const [a, b] = await Promise.all([ask(byPut), ask(byImport)]);
    expect(b).toEqual(a);
  });

  it.skipIf(defaultBackend() !== 'postgres')('a running server serves the imported version at once (its read cache is told)', async () => {
    const read = async () => byImport.json<Resource>(await byImport.request({ method: 'GET', url: '/fhir/Patient/m0-0', headers: { accept: FHIR_JSON } }));
    expect((await read()).meta?.versionId).toBe('1');
    expect((await read()).meta?.versionId).toBe('1'); // now cached
    // Another process (like `npm run import`) imports a changed Patient into the same database.
    const other = new ResourceRepository({ ...byImport.db, close: () => Promise.resolve() }, { readCacheEntries: 0 });
    const changed = { ...resources.find((r) => r.id === 'm0-0')!, gender: 'unknown' };
    const [path] = await files.export([changed as Resource], '-changed');
    await importFiles([path!], { store: other.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64 });
    await vi.waitFor(async () => expect((await read()).meta?.versionId).toBe('2'), { timeout: 10_000 });
  });
});

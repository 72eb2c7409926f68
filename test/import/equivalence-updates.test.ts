// An import of new versions of existing resources stores what one-by-one PUTs store (equivalence.test.ts
// covers creates): the replaced search index, fact and access rows of updated rows, the same id twice in
// one file (its versions written in separate statements of one batch), and contents the batched write
// sends newline-joined (U+2028, an escaped newline, a literal backslash-n, a large resource).
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderFiles } from '../../src/import/files.js';
import { importFiles } from '../../src/import/importer.js';
import { defaultBackend } from '../support/db.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';
import { benchResources, fixtureDir, storedVersions, type FixtureDir } from './fixtures.js';

const TABLES: Record<string, string> = {
  search_token: 'code, system, value, text_norm',
  search_string: 'code, value_norm, value_exact',
  search_date: 'code, low, high',
  search_reference: 'code, target_type, target_id, url, identifier_system, identifier_value',
  search_uri: 'code, value',
  coordination_fact: 'member_id, kind, key, org, during::text AS during',
  member_access: 'member_id, actor, deny, during::text AS during',
};

const clone = <T>(r: T): T => JSON.parse(JSON.stringify(r)) as T;

describe(`import of updates vs one-by-one PUT on ${defaultBackend()}`, () => {
  let byPut: TestServer;
  let byImport: TestServer;
  let files: FixtureDir;
  const resources: Resource[] = benchResources(1);
  const ids = resources.map((r) => r.id!);
  const find = (type: string, n = 0): Resource => resources.filter((r) => r.resourceType === type && r.id!.startsWith('m0-'))[n]!;
  // New versions, in file order: one id twice, the others once.
  const patient = clone(find('Patient')) as Resource & { name: { text?: string }[] };
  patient.name[0]!.text = `Carmen\u2028Member0 a\\nb c\nd ${'x'.repeat(300_000)}`;
  const episode2 = clone(find('EpisodeOfCare')) as Resource & { period: { end?: string } };
  episode2.period.end = '2026-06-30';
  const episode3 = clone(episode2);
  episode3.period.end = '2026-12-31';
  const team = clone(find('CareTeam')) as Resource & { name?: string; period?: { start?: string; end?: string } };
  team.name = 'Renamed\u2028team';
  team.period = { start: '2024-01-01', end: '2026-03-31' };
  const updates: Resource[] = [patient, episode2, episode3, team];

  beforeAll(async () => {
    [byPut, byImport] = await Promise.all([startTestServer(), startTestServer()]);
    files = await fixtureDir();
    const put = async (r: Resource, status: number): Promise<void> => {
      const res = await byPut.request({ method: 'PUT', url: `/fhir/${r.resourceType}/${r.id}`, headers: { 'content-type': FHIR_JSON }, payload: JSON.stringify(r) });
      expect(res.statusCode, res.body).toBe(status);
    };
    for (const group of orderFiles([...new Set(resources.map((r) => r.resourceType))].map((t) => ({ resourceType: t, name: t })))) {
      for (const r of resources.filter((x) => x.resourceType === group.resourceType)) await put(r, 201);
    }
    for (const group of orderFiles([...new Set(updates.map((r) => r.resourceType))].map((t) => ({ resourceType: t, name: t })))) {
      for (const r of updates.filter((x) => x.resourceType === group.resourceType)) await put(r, 200);
    }
    const options = { store: byImport.repository.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 50, writeChunk: 10 };
    expect((await importFiles(await files.export(resources), options)).rejected).toBe(0);
    const summary = await importFiles(await files.export(updates, '-updates'), options);
    expect(summary).toMatchObject({ written: updates.length, rejected: 0 });
  });
  afterAll(async () => {
    await Promise.all([byPut?.close(), byImport?.close()]);
    await files?.remove();
  });

  it.each(Object.keys(TABLES))('%s rows are identical', async (table) => {
    const rows = async (server: TestServer): Promise<string[]> => {
      const res = await server.db.query<Record<string, unknown>>(
        `SELECT r.resource_type AS rt, r.id AS rid_, ${TABLES[table]} FROM ${table} t JOIN resource r USING (rid) WHERE r.id = ANY($1::text[])`,
        [ids],
      );
      return res.rows.map((row) => JSON.stringify(row)).sort();
    };
    const [a, b] = await Promise.all([rows(byPut), rows(byImport)]);
    expect(a.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it('stores the same bodies and history, the updated ones as PUT versions', async () => {
    const [a, b] = await Promise.all([storedVersions(byPut, ids), storedVersions(byImport, ids)]);
    expect(a).toHaveLength(resources.length + updates.length);
    expect(b).toEqual(a);
    const current = await byImport.request({ method: 'GET', url: `/fhir/Patient/${patient.id}`, headers: { accept: FHIR_JSON } });
    expect(byImport.json<typeof patient>(current).name[0]!.text).toBe(patient.name[0]!.text);
    const episode = await byImport.request({ method: 'GET', url: `/fhir/EpisodeOfCare/${episode3.id}`, headers: { accept: FHIR_JSON } });
    expect(byImport.json<Resource>(episode).meta?.versionId).toBe('3');
  });
});

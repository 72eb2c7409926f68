// A line prepared in a worker travels to the importing thread as JSON text, not as an object tree
// (prepare.ts, shipped): what the importing thread stores and judges from it must be exactly what it
// would from the line prepared in its own thread: the stored text byte for byte, the resource, and an
// import through such a preparer, with the rules on, stores the same rows and rejects the same lines.
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { stringifyWithTexts } from '../../src/fhir/number-text.js';
import { stamp } from '../../src/fhir/resource-service.js';
import { importFiles, prepareInThread, type BatchPreparer } from '../../src/import/importer.js';
import { prepareLine, resourceOf, shipped, storedText, type PreparedOk } from '../../src/import/prepare.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { benchResources, fixtureDir, type FixtureDir } from './fixtures.js';
import { rivalLead } from './operation-support.js';

const LU = '2026-12-04T10:00:00.123Z';

/** As a worker hands it over: shipped, then structured-cloned across the thread boundary. */
const overTheWire: BatchPreparer = async (lines, options) => structuredClone((await prepareInThread(lines, options)).map(shipped));

describe('lines shipped from a worker as JSON text', () => {
  beforeAll(() => loadDefinitions());

  const cases: [string, string][] = [
    ['no meta', '{"resourceType":"Patient","id":"s1","name":[{"family":"Ünïcødé \\"q\\"","given":["a"]}],"gender":"other"}'],
    ['meta in the middle', '{"resourceType":"Patient","meta":{"tag":[{"system":"urn:x","code":"t"}],"versionId":"7"},"id":"s2","active":true}'],
    ['meta with lastUpdated first', '{"resourceType":"Patient","id":"s3","meta":{"lastUpdated":"2001-01-01T00:00:00Z","profile":["http://example.org/p"]},"birthDate":"1970-01-01"}'],
    ['a number text kept', '{"resourceType":"Observation","id":"s4","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"}}'],
  ];

  it.each(cases)('stores the same text and judges the same resource (%s)', (_name, text) => {
    const type = (JSON.parse(text) as Resource).resourceType;
    const local = prepareLine(Buffer.from(text), 1, text.length + 1, { resourceType: type, maxJsonDepth: 64, baseUrls: [] }) as PreparedOk;
    expect(local.ok).toBe(true);
    const remote = structuredClone(shipped(local)) as PreparedOk;
    for (const versionId of [1, 12]) {
      expect(storedText(remote, versionId, LU)).toBe(stringifyWithTexts(stamp(local.resource!, local.id, versionId, LU), local.texts));
    }
    expect(resourceOf(remote)).toEqual(local.resource);
    expect(remote.index).toEqual(local.index);
    expect(remote.members).toEqual(local.members);
  });

  it('ships the JSON text instead of the resource, but for a line whose number texts must be restored', () => {
    const [plain, withText] = [cases[1]![1], cases[3]![1]].map((t) => prepareLine(Buffer.from(t), 1, 1, { resourceType: (JSON.parse(t) as Resource).resourceType, maxJsonDepth: 64, baseUrls: [] }));
    const a = shipped(plain!) as PreparedOk;
    expect(a.resource).toBeUndefined();
    expect(a.json).toBe('{"resourceType":"Patient","id":"s2","active":true}');
    expect(a.meta).toEqual({ tag: [{ system: 'urn:x', code: 't' }], versionId: '7' });
    const b = shipped(withText!) as PreparedOk;
    expect(b.json).toBeUndefined();
    expect(b.texts.length).toBe(1);
  });
});

describe.each(storageBackends())('an import through a shipping preparer on %s', (backend) => {
  let dbs: Database[];
  let files: FixtureDir;

  beforeAll(async () => {
    loadDefinitions();
    dbs = [await openTestDatabase(backend), await openTestDatabase(backend)];
    files = await fixtureDir();
  });
  afterAll(async () => {
    for (const db of dbs ?? []) await db.close();
    await files?.remove();
  });

  it('stores the same rows and rejects the same lines as preparing in the importing thread', async () => {
    const resources = benchResources(3);
    // A rival lead for member 0 (conflicting legacy data): rejected by the rules either way.
    const rival = rivalLead(resources, 'm1-4', 'shipped-rival');
    const paths = await files.export([...resources, rival]);
    const results = [];
    for (const [i, prepare] of [prepareInThread, overTheWire].entries()) {
      const repo = new ResourceRepository(dbs[i]!, { readCacheEntries: 0 });
      const summary = await importFiles(paths, { store: repo.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 7, writeChunk: 3, prepare, now: () => new Date(LU) });
      const rows = await dbs[i]!.query<{ k: string; content: string }>("SELECT resource_type || '/' || id || '/' || version_id AS k, content FROM resource_version ORDER BY 1");
      const counts = await dbs[i]!.query<{ n: string | number }>('SELECT (SELECT count(*) FROM search_token) + (SELECT count(*) FROM search_reference) + (SELECT count(*) FROM coordination_fact) + (SELECT count(*) FROM member_access) AS n');
      const errors = (await repo.importStore().journal.errors(summary.files.find((f) => f.resourceType === 'CareTeam')!.fileKey)).map((e) => [e.line, e.ruleId]);
      results.push({ written: summary.written, rejected: summary.rejected, rows: rows.rows, rowsIndexed: Number(counts.rows[0]!.n), errors });
    }
    expect(results[0]!.written).toBe(resources.length);
    expect(results[0]!.errors.length).toBe(1);
    expect(results[1]).toEqual(results[0]);
  });
});

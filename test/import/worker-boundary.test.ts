// A line prepared in a worker reaches the importing thread as a structured clone of what prepareLine
// returned: an import through such a preparer, with the rules on, must store the same version rows, index,
// fact and access rows and reject the same lines as one prepared in the importing thread (the worker
// boundary is where a representation change would break this; docs/adr/0014, addendum 5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { importFiles, prepareInThread, type BatchPreparer } from '../../src/import/importer.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { benchResources, fixtureDir, type FixtureDir } from './fixtures.js';
import { rivalLead } from './operation-support.js';

const LU = '2026-12-04T10:00:00.123Z';

/** As a worker hands it over: structured-cloned across the thread boundary. */
const overTheWire: BatchPreparer = async (lines, options) => structuredClone(await prepareInThread(lines, options));

describe.each(storageBackends())('an import through a cloning preparer on %s', (backend) => {
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

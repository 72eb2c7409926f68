// Where an import's batches end: after `batchSize` lines, run on (up to twice as far) while the next line
// belongs to the same member as the last, read from the line's text (importer.ts, memberHint; spaces
// around the reference allowed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { importFiles } from '../../src/import/importer.js';
import type { ImportStore } from '../../src/import/store.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { defaultBackend, openTestDatabase } from '../support/db.js';
import { fixtureDir, type FixtureDir } from './fixtures.js';

describe(`import batch boundaries on ${defaultBackend()}`, () => {
  let db: Database;
  let repo: ResourceRepository;
  let files: FixtureDir;

  beforeAll(async () => {
    loadDefinitions();
    db = await openTestDatabase();
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
    files = await fixtureDir();
  });
  afterAll(async () => {
    await repo.close();
    await files.remove();
  });

  /** The lines of each batch transaction, by their ids. */
  async function batchesOf(name: string, lines: string[], batchSize: number): Promise<string[][]> {
    const path = join(files.dir, `${name}.CareTeam.ndjson`);
    await writeFile(path, lines.join('\n') + '\n');
    const store = repo.importStore();
    const batches: string[][] = [];
    const counting: ImportStore = {
      kind: store.kind,
      journal: store.journal,
      transaction: (fn) =>
        store.transaction((tx) => {
          const batch: string[] = [];
          batches.push(batch);
          const lockCurrentMany: typeof tx.lockCurrentMany = (refs) => (batch.push(...refs.map((r) => r.id)), tx.lockCurrentMany(refs));
          return fn(
            new Proxy(tx, {
              get: (target, prop) => {
                if (prop === 'lockCurrentMany') return lockCurrentMany;
                const v = Reflect.get(target, prop) as unknown;
                return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
              },
            }),
          );
        }),
    };
    await importFiles([path], { store: counting, rules: false, baseUrls: [], maxJsonDepth: 64, batchSize });
    return batches.filter((b) => b.length > 0);
  }

  const team = (id: string, member: string, pretty = false): string =>
    pretty
      ? `{"resourceType":"CareTeam","id":"${id}","extension":[{"url":"urn:x","valueString":"\\"subject\\": not a key"}],"subject" : { "reference" : "Patient/${member}" }}`
      : `{"resourceType":"CareTeam","id":"${id}","subject":{"reference":"Patient/${member}"}}`;

  it("runs a batch on while the next line is the same member's, and ends it at the next member's", async () => {
    const batches = await batchesOf('runs-on', [team('b1', 'x'), team('b2', 'x'), team('b3', 'x', true), team('b4', 'y'), team('b5', 'y')], 2);
    expect(batches).toEqual([['b1', 'b2', 'b3'], ['b4', 'b5']]);
  });

  it('ends a batch at twice its size even for one member', async () => {
    const batches = await batchesOf('twice', ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => team(id, 'z')), 2);
    expect(batches).toEqual([['c1', 'c2', 'c3', 'c4'], ['c5']]);
  });
});

// The importer prepares batches ahead of the one being written, across file boundaries
// (docs/adr/0014, addendum 4). What must hold under that overlap: the preparing thread is handed the next
// batches (the next file's too) before the current one commits; batches are still written and journalled
// in file order (the same id in two batches ends as versions in line order); a batch that fails leaves
// the batches prepared behind it unwritten and the re-run loads everything exactly once; preparations the
// import never reaches fail quietly (a worker pool closed after a failure).
import type { CareTeam, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { importFiles, prepareInThread, type BatchPreparer, type ImportOptions } from '../../src/import/importer.js';
import type { Prepared } from '../../src/import/prepare.js';
import type { ImportStore } from '../../src/import/store.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { benchResources, fixtureDir, type FixtureDir } from './fixtures.js';

describe.each(storageBackends())('import preparing batches ahead on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  let files: FixtureDir;
  const options = (extra: Partial<ImportOptions> = {}): ImportOptions => ({ store: repo.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64, ...extra });
  const count = async (sql: string, params: unknown[] = []): Promise<number> => Number((await db.query<{ n: string | number }>(sql, params)).rows[0]!.n);

  beforeAll(async () => {
    loadDefinitions();
    db = await openTestDatabase(backend);
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
    files = await fixtureDir();
  });
  afterAll(async () => {
    await repo.close();
    await files.remove();
  });

  const organizations = (prefix: string, n: number): Resource[] => Array.from({ length: n }, (_, i) => ({ resourceType: 'Organization', id: `${prefix}-o${i}`, name: `Org ${i}` }));
  const patients = (prefix: string, n: number): Resource[] => Array.from({ length: n }, (_, i) => ({ resourceType: 'Patient', id: `${prefix}-p${i}`, gender: 'other' }));

  /** A preparer that logs each batch it is handed (type and first line) and holds it until released. */
  function gatedPreparer(): { prepare: BatchPreparer; handed: string[]; release(): void } {
    const handed: string[] = [];
    const waiting: (() => void)[] = [];
    let open = false;
    return {
      handed,
      prepare: (lines, o) => {
        handed.push(`${o.resourceType}:${lines[0]!.line}`);
        const run = (): Promise<Prepared[]> => prepareInThread(lines, o);
        if (open) return run();
        return new Promise((resolve) => waiting.push(() => resolve(run())));
      },
      release() {
        open = true;
        for (const w of waiting.splice(0)) w();
      },
    };
  }

  it('hands the next batches, the next file included, to the preparer before the first batch commits', async () => {
    // Organizations load before Patients: 2 batches of Organizations, then 3 of Patients.
    const paths = await files.export([...organizations('ahead', 4), ...patients('ahead', 6)], '-ahead');
    const gate = gatedPreparer();
    const done = importFiles(paths, options({ batchSize: 2, prepareAhead: 3, prepare: gate.prepare }));
    // (Waited for, bounded: the journal reads of each file come first.)
    for (let waited = 0; gate.handed.length < 4 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    // The first batch is not prepared yet, and the preparer already holds the next 3, the first two of
    // the next file included (one ahead, within the file, was the behaviour before).
    expect(gate.handed).toEqual(['Organization:1', 'Organization:3', 'Patient:1', 'Patient:3']);
    gate.release();
    const summary = await done;
    expect(summary.written).toBe(10);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'ahead-%'")).toBe(10);
    expect(gate.handed).toEqual(['Organization:1', 'Organization:3', 'Patient:1', 'Patient:3', 'Patient:5']);
  });

  it('writes batches in file order: the same id in batches prepared together ends as versions in line order', async () => {
    const lines: Resource[] = [1, 2, 3, 4, 5, 6].map((n) => ({ resourceType: 'Patient', id: 'order-same', gender: n % 2 ? 'male' : 'female', birthDate: `200${n}-01-01` }));
    const [path] = await files.export(lines, '-order');
    const summary = await importFiles([path!], options({ batchSize: 1, prepareAhead: 4 }));
    expect(summary.written).toBe(6);
    const history = await db.query<{ version_id: number; content: string }>("SELECT version_id, content FROM resource_version WHERE id = 'order-same' ORDER BY version_id");
    expect(history.rows.map((r) => [r.version_id, (JSON.parse(r.content) as { birthDate: string }).birthDate])).toEqual(
      [1, 2, 3, 4, 5, 6].map((n) => [n, `200${n}-01-01`]),
    );
  });

  it('resumes after a failed batch with later batches (and the next file) prepared: each line stored once', async () => {
    const paths = await files.export([...organizations('crash', 9), ...patients('crash', 7)], '-crash');
    const real = repo.importStore();
    let calls = 0;
    const failing: ImportStore = {
      ...real,
      // The last Organization batch fails after writing its rows (as a crash before COMMIT would), while
      // the Patient file's batches are already prepared and its journal row started.
      transaction: (fn) =>
        real.transaction(async (tx) => {
          const out = await fn(tx);
          if (++calls === 3) throw new Error('simulated crash');
          return out;
        }),
    };
    // A pool whose preparations fail once the import has failed (as piscina's destroy fails them).
    let failed = false;
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      // The Patient batches are still in preparation when the Organization batch fails.
      const prepare: BatchPreparer = (lines, o) =>
        new Promise((resolve, reject) => setTimeout(() => (failed ? reject(new Error('pool destroyed')) : resolve(prepareInThread(lines, o))), o.resourceType === 'Patient' ? 300 : 5));
      await expect(importFiles(paths, options({ store: failing, batchSize: 4, prepareAhead: 3, prepare }))).rejects.toThrow('simulated crash');
      failed = true;
      await new Promise((r) => setTimeout(r, 400));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'crash-o%'")).toBe(8);
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'crash-p%'")).toBe(0);
    const summary = await importFiles(paths, options({ batchSize: 4, prepareAhead: 3 }));
    expect(summary.written).toBe(1 + 7);
    expect(summary.files.map((f) => [f.resourceType, f.written, f.lines])).toEqual([
      ['Organization', 9, 9],
      ['Patient', 7, 7],
    ]);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'crash-%'")).toBe(16);
  });
});

describe.each(storageBackends())('import rule reads on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  let files: FixtureDir;

  beforeAll(async () => {
    loadDefinitions();
    db = await openTestDatabase(backend);
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
    files = await fixtureDir();
  });
  afterAll(async () => {
    await repo.close();
    await files.remove();
  });

  it("answers the rules' reads of roles, organizations and practitioners from two statements per batch, not one read each", async () => {
    const resources = benchResources(6);
    const directory = resources.filter((r) => ['Organization', 'Practitioner', 'PractitionerRole'].includes(r.resourceType));
    await importFiles(await files.export(directory, '-dir'), { store: repo.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64 });
    const real = repo.importStore();
    const reads: string[] = [];
    let readMany = 0;
    const counting: ImportStore = {
      ...real,
      transaction: (fn) =>
        real.transaction((tx) =>
          fn(
            Object.assign(Object.create(tx) as typeof tx, {
              read: (type: string, id: string) => {
                reads.push(`${type}/${id}`);
                return tx.read(type, id);
              },
              readCurrentMany: (refs: readonly { resourceType: string; id: string }[]) => {
                readMany++;
                return tx.readCurrentMany(refs);
              },
            }),
          ),
        ),
    };
    const members = resources.filter((r) => !directory.includes(r));
    const summary = await importFiles(await files.export(members, '-members'), { store: counting, rules: true, baseUrls: [], maxJsonDepth: 64, batchSize: 1000 });
    expect(summary.rejected).toBe(0);
    expect(summary.written).toBe(members.length);
    // The CareTeams' rules read their participants' roles and the roles' organizations: all prefetched.
    expect(reads).toEqual([]);
    expect(readMany).toBeGreaterThan(0);
  });

  it('judges a team by the role as stored when the rules read it: a rival lead is still refused', async () => {
    const resources = benchResources(2, 40);
    const team = resources.find((r) => r.resourceType === 'CareTeam') as CareTeam;
    await importFiles(await files.export(resources, '-rival'), { store: repo.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64 });
    const lead = team.participant![0]!;
    const org = team.managingOrganization![0]!.reference;
    const other = resources.find((r) => r.resourceType === 'PractitionerRole' && r.organization?.reference === org && `PractitionerRole/${r.id}` !== lead.member?.reference)!;
    const rival: CareTeam = { ...team, id: `${team.id}-rival`, participant: [{ ...lead, member: { reference: `PractitionerRole/${other.id}` } }, ...team.participant!.slice(1)] };
    const [path] = await files.export([rival], '-rival2');
    const summary = await importFiles([path!], { store: repo.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64 });
    expect(summary.rejected).toBe(1);
    expect(await repo.read('CareTeam', rival.id!)).toBeUndefined();
  });
});

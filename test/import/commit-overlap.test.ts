// On PostgreSQL the next batch's transaction opens once the previous batch has judged its lines, while
// that one's last statements and COMMIT are still on their way (docs/adr/0014, addendum 6). What must
// hold: batches still commit in file order and a batch commits only after its predecessor did; a
// predecessor that fails rolls back the batch opened behind it and the re-run stores every line once; a
// predecessor that is retried (a serialisation failure) makes the batch judged with its handover run
// again; a member both batches touch is judged with the predecessor's lines (a rival lead is refused).
import type { CareTeam, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { importFiles, type ImportOptions } from '../../src/import/importer.js';
import type { ImportStore } from '../../src/import/store.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { benchResources, fixtureDir, type FixtureDir } from './fixtures.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(storageBackends().filter((b) => b === 'postgres'))('import batches overlapping their commits on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  let files: FixtureDir;
  const options = (extra: Partial<ImportOptions> = {}): ImportOptions => ({ store: repo.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64, ...extra });
  const count = async (sql: string, params: unknown[] = []): Promise<number> => Number((await db.query<{ n: string | number }>(sql, params)).rows[0]!.n);
  const patients = (prefix: string, n: number): Resource[] => Array.from({ length: n }, (_, i) => ({ resourceType: 'Patient', id: `${prefix}-p${i}`, gender: 'other' }));

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

  /**
   * The import store with each transaction numbered in the order it was opened: logs when its function
   * starts and when the transaction ended, and lets `hold` keep a transaction from ending (after its
   * function) until the next one's function has started (bounded: 3 s).
   */
  function loggingStore(hold: (n: number, attempt: number) => 'wait-next' | 'fail' | 'retry' | undefined): { store: ImportStore; log: string[] } {
    const real = repo.importStore();
    const log: string[] = [];
    const started = new Map<number, () => void>();
    const startedP = new Map<number, Promise<void>>();
    const startOf = (n: number): Promise<void> => {
      if (!startedP.has(n)) startedP.set(n, new Promise((r) => started.set(n, r)));
      return startedP.get(n)!;
    };
    let opened = 0;
    const store: ImportStore = {
      ...real,
      transaction: async (fn) => {
        const n = ++opened;
        let attempt = 0;
        try {
          return await real.transaction(async (tx) => {
            attempt++;
            log.push(`start ${n}`);
            void startOf(n);
            started.get(n)!();
            const out = await fn(tx);
            const what = hold(n, attempt);
            if (what) await Promise.race([startOf(n + 1), sleep(3000)]);
            if (what === 'fail') throw new Error('simulated crash');
            // As PostgreSQL reports a serialisation failure: the repository runs the function again.
            if (what === 'retry') throw Object.assign(new Error('simulated serialisation failure'), { code: '40001' });
            return out;
          });
        } finally {
          log.push(`end ${n}`);
        }
      },
    };
    return { store, log };
  }

  it('opens the next batch before the previous one commits, and commits them in file order', async () => {
    const [path] = await files.export(patients('open', 6), '-open');
    const { store, log } = loggingStore((n) => (n === 1 ? 'wait-next' : undefined));
    const summary = await importFiles([path!], options({ store, batchSize: 2 }));
    expect(summary.written).toBe(6);
    // Batch 2's transaction function ran while batch 1's transaction was still open (before: only after).
    expect(log.indexOf('start 2')).toBeGreaterThan(-1);
    expect(log.indexOf('start 2')).toBeLessThan(log.indexOf('end 1'));
    expect(log.filter((l) => l.startsWith('end'))).toEqual(['end 1', 'end 2', 'end 3']);
    const journal = (await db.query<{ committed_lines: number; written: number }>("SELECT committed_lines, written FROM import_file WHERE name = 'Patient-open.ndjson'")).rows;
    expect(journal).toEqual([{ committed_lines: 6, written: 6 }]);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'open-%'")).toBe(6);
  });

  it('rolls back the batch opened behind a batch that fails; the re-run stores every line once', async () => {
    const [path] = await files.export(patients('fail', 6), '-fail');
    const { store, log } = loggingStore((n) => (n === 2 ? 'fail' : undefined));
    await expect(importFiles([path!], options({ store, batchSize: 2 }))).rejects.toThrow('simulated crash');
    // Batch 3 had opened (and written its rows) behind batch 2: it did not commit.
    expect(log.indexOf('start 3')).toBeLessThan(log.indexOf('end 2'));
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'fail-%'")).toBe(2);
    expect((await db.query<{ committed_lines: number }>("SELECT committed_lines FROM import_file WHERE name = 'Patient-fail.ndjson'")).rows).toEqual([{ committed_lines: 2 }]);
    const summary = await importFiles([path!], options({ batchSize: 2 }));
    expect(summary.written).toBe(4);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'fail-%'")).toBe(6);
  });

  it('runs a batch again when its predecessor was retried after handing over what it accepted', async () => {
    const [path] = await files.export(patients('retry', 6), '-retry');
    const { store, log } = loggingStore((n, attempt) => (n === 1 && attempt === 1 ? 'retry' : undefined));
    const summary = await importFiles([path!], options({ store, batchSize: 2 }));
    expect(summary.written).toBe(6);
    // Batch 1 ran twice (the retry), batch 2 opened during the first run and ran again after batch 1 committed.
    expect(log.filter((l) => l === 'start 1')).toHaveLength(2);
    expect(log.indexOf('start 2')).toBeLessThan(log.indexOf('end 1'));
    expect(log.filter((l) => l === 'end 2').length + log.filter((l) => l === 'end 4').length).toBe(2);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'retry-%'")).toBe(6);
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'retry-%' AND version_id = 1")).toBe(6);
    expect((await db.query<{ committed_lines: number; written: number }>("SELECT committed_lines, written FROM import_file WHERE name = 'Patient-retry.ndjson'")).rows).toEqual([
      { committed_lines: 6, written: 6 },
    ]);
  });

  it('judges a member both batches touch with the earlier batch committed: a rival lead in the next batch is refused', async () => {
    // One member's CareTeams: with batches of 1 line a batch runs on to 2 lines for one member, so the
    // member's three teams span two batches. The bench member's team comes first; the two others name
    // another lead for the same scope.
    const all = benchResources(1, 900);
    await importFiles(await files.export(all.filter((r) => r.resourceType !== 'CareTeam'), '-member'), options());
    const member = all;
    const team = member.find((r) => r.resourceType === 'CareTeam') as CareTeam;
    // A rival: the same team led by another role of the same organization (as in prepare-ahead.test.ts).
    const lead = team.participant![0]!;
    const org = team.managingOrganization![0]!.reference;
    const other = member.find((r) => r.resourceType === 'PractitionerRole' && r.organization?.reference === org && `PractitionerRole/${r.id}` !== lead.member?.reference)!;
    const rival = (id: string): CareTeam => ({ ...team, id, participant: [{ ...lead, member: { reference: `PractitionerRole/${other.id}` } }, ...team.participant!.slice(1)] });
    const teams = [team, rival(`${team.id!}-rival1`), rival(`${team.id!}-rival2`)];
    const [path] = await files.export(teams, '-teams');
    const { store, log } = loggingStore((n) => (n === 1 ? 'wait-next' : undefined));
    const summary = await importFiles([path!], options({ store, batchSize: 1 }));
    expect(log.indexOf('start 2')).toBeLessThan(log.indexOf('end 1'));
    // Line 2 is refused within batch 1; line 3, in batch 2, is refused against batch 1's committed lead.
    expect({ written: summary.written, rejected: summary.rejected }).toEqual({ written: 1, rejected: 2 });
    const errors = await repo.importStore().journal.errors(summary.files[0]!.fileKey);
    expect(errors.map((e) => [e.line, e.ruleId !== undefined])).toEqual([
      [2, true],
      [3, true],
    ]);
    expect(await count('SELECT count(*) AS n FROM resource WHERE id = ANY($1::text[])', [teams.map((t) => t.id)])).toBe(1);
  });
});

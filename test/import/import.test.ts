// The bulk import on every backend: what it stores, what it refuses (per line, with the rule and the
// conflicting holder), idempotent re-runs, the same id twice in one batch, and resumption after a batch
// failed half-way with write statements sent (the process-kill variant is in cli.test.ts).
import type { CareTeam, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeSystems } from '../../src/coordination/codes.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { importFiles, type ImportOptions } from '../../src/import/importer.js';
import type { BatchVersion, ImportStore } from '../../src/import/store.js';
import type { Database } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { benchResources, fixtureDir, type FixtureDir } from './fixtures.js';


/** A copy of the member's lead team, with another care manager of the same organization as lead. */
function rivalLead(resources: readonly Resource[], teamId: string, id: string): CareTeam {
  const team = resources.find((r) => r.id === teamId) as CareTeam;
  const lead = team.participant![0]!;
  const org = team.managingOrganization![0]!.reference;
  const other = resources.find((r) => r.resourceType === 'PractitionerRole' && r.organization?.reference === org && `PractitionerRole/${r.id}` !== lead.member?.reference)!;
  return { ...team, id, participant: [{ ...lead, member: { reference: `PractitionerRole/${other.id}` } }, ...team.participant!.slice(1)] };
}

describe.each(storageBackends())('bulk import on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  let files: FixtureDir;
  const options = (extra: Partial<ImportOptions> = {}): ImportOptions => ({ store: repo.importStore(), rules: true, baseUrls: [], maxJsonDepth: 64, ...extra });

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

  const count = async (sql: string, params: unknown[] = []): Promise<number> => Number((await db.query<{ n: string | number }>(sql, params)).rows[0]!.n);
  const versionsOf = (type: string, id: string): Promise<number> => count('SELECT count(*) AS n FROM resource_version WHERE resource_type = $1 AND id = $2', [type, id]);

  it('loads members in dependency order whatever order the files are named in, keeping the ids', async () => {
    const resources = benchResources(2);
    const paths = await files.export(resources, '-a');
    const summary = await importFiles([...paths].reverse(), options({ batchSize: 7 }));
    expect(summary.rejected).toBe(0);
    expect(summary.written).toBe(resources.length);
    expect(summary.files.map((f) => f.resourceType).slice(0, 5)).toEqual(['Organization', 'Practitioner', 'PractitionerRole', 'Patient', 'EpisodeOfCare']);
    const team = await repo.read('CareTeam', 'm1-4');
    expect(team?.versionId).toBe(1);
    expect(JSON.parse(team!.content!)).toMatchObject({ resourceType: 'CareTeam', id: 'm1-4', subject: { reference: 'Patient/m1-0' } });
    expect(await count('SELECT count(*) AS n FROM resource_version')).toBe(resources.length);
    // The search index and the fact projection followed (equivalence.test.ts compares them row for row).
    expect(await count("SELECT count(*) AS n FROM search_reference s JOIN resource r USING (rid) WHERE r.resource_type = 'CareTeam' AND s.code = 'subject' AND s.target_id = 'm1-0'")).toBe(2);
    expect(await count("SELECT count(*) AS n FROM coordination_fact WHERE member_id = 'm1-0' AND kind = 'lead'")).toBe(1);
  });

  it('is idempotent: the same files again read nothing; the same resources in a new file store no new version', async () => {
    const resources = benchResources(2);
    const again = await importFiles(await files.export(resources, '-a'), options());
    expect(again.files.every((f) => f.alreadyComplete)).toBe(true);
    expect(again.written + again.unchanged + again.rejected).toBe(0);
    // A new export (other files: lines in another order) with one changed Patient: only that one gets a version.
    const changed = resources.map((r) => (r.resourceType === 'Patient' && r.id === 'm0-0' ? { ...r, gender: 'unknown' as const } : r)).reverse();
    const summary = await importFiles(await files.export(changed, '-b'), options());
    expect(summary.files.some((f) => f.alreadyComplete)).toBe(false);
    expect(summary.written).toBe(1);
    expect(summary.unchanged).toBe(resources.length - 1);
    expect(await versionsOf('Patient', 'm0-0')).toBe(2);
    expect(await versionsOf('Patient', 'm1-0')).toBe(1);
    expect(await count('SELECT count(*) AS n FROM resource_version')).toBe(resources.length + 1);
  });

  it('reports each bad line (invalid JSON, invalid resource, wrong type, no id) and stores the others', async () => {
    const path = await files.file('Patient-bad.ndjson', [
      { resourceType: 'Patient', id: 'ok-1', gender: 'female' },
      '{"resourceType": "Patient", "id": "broken",',
      '{"resourceType": "Patient", "id": "bad-gender", "gender": "sometimes"}',
      { resourceType: 'Organization', id: 'not-a-patient', name: 'x' },
      { resourceType: 'Patient', gender: 'male' },
      '',
      { resourceType: 'Patient', id: 'ok-2' },
    ]);
    const summary = await importFiles([path], options());
    expect(summary.written).toBe(2);
    expect(summary.rejected).toBe(4);
    const errors = await repo.importStore().journal.errors(summary.files[0]!.fileKey);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5]);
    expect(errors[0]!.outcome.issue?.[0]?.code).toBe('structure');
    expect(errors[1]).toMatchObject({ resourceType: 'Patient', id: 'bad-gender' });
    expect(errors[1]!.outcome.issue?.some((i) => i.severity === 'error' && i.expression?.some((e) => e.includes('gender')))).toBe(true);
    expect(errors[2]).toMatchObject({ resourceType: 'Organization', id: 'not-a-patient' });
    expect(errors[3]!.outcome.issue?.[0]?.expression).toEqual(['Patient.id']);
    expect(await repo.read('Patient', 'ok-2')).toBeDefined();
    expect(await repo.read('Patient', 'bad-gender')).toBeUndefined();
  });

  it('refuses Subscriptions and AuditEvents: their server-side state (owner, secret, immutability) comes only through the API', async () => {
    const subs = await files.file('Subscription.ndjson', [
      { resourceType: 'Subscription', id: 'imported-sub', status: 'requested', reason: 'x', criteria: 'Patient?_id=x', channel: { type: 'rest-hook', endpoint: 'https://engine.example/hook' } },
    ]);
    const audits = await files.file('AuditEvent.ndjson', [
      { resourceType: 'AuditEvent', id: 'imported-audit', type: { code: 'rest' }, recorded: '2026-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } } },
    ]);
    const summary = await importFiles([subs, audits], options());
    expect(summary.written).toBe(0);
    expect(summary.rejected).toBe(2);
    for (const f of summary.files) {
      const [error] = await repo.importStore().journal.errors(f.fileKey);
      expect(error!.outcome.issue?.[0]?.code).toBe('not-supported');
    }
    expect(await repo.read('Subscription', 'imported-sub')).toBeUndefined();
  });

  it('refuses conflicting legacy data per line: a second lead, an overlapping order (rule id and holder reported)', async () => {
    const resources = benchResources(3, 10);
    const secondLead = rivalLead(resources, 'm10-4', 'legacy-lead');
    const sameOrder = { ...(resources.find((r) => r.id === 'm11-7') as ServiceRequest), id: 'legacy-order' };
    const paths = await files.export([...resources, secondLead, sameOrder], '-c');
    const summary = await importFiles(paths, options());
    expect(summary.rejected).toBe(2);
    const byType = new Map(summary.files.map((f) => [f.resourceType, f.fileKey]));
    const [lead] = await repo.importStore().journal.errors(byType.get('CareTeam')!);
    expect(lead).toMatchObject({ resourceType: 'CareTeam', id: 'legacy-lead', line: 7, conflicting: expect.arrayContaining(['CareTeam/m10-4']) as unknown });
    expect(lead!.ruleId).toBe('single-lead');
    expect(lead!.outcome.issue?.[0]?.details?.coding?.[0]).toEqual({ system: CodeSystems.rule, code: 'single-lead' });
    const [order] = await repo.importStore().journal.errors(byType.get('ServiceRequest')!);
    expect(order).toMatchObject({ resourceType: 'ServiceRequest', id: 'legacy-order', conflicting: expect.arrayContaining(['ServiceRequest/m11-7']) as unknown });
    expect(order!.ruleId).toBe(order!.outcome.issue?.[0]?.details?.coding?.[0]?.code);
    expect(await repo.read('CareTeam', 'legacy-lead')).toBeUndefined();
    expect(await repo.read('ServiceRequest', 'legacy-order')).toBeUndefined();
    expect(await count("SELECT count(*) AS n FROM coordination_fact WHERE member_id = 'm10-0' AND kind = 'lead'")).toBe(1);
  });

  it('judges a line against earlier lines of the same batch, and writes the same id twice as two versions', async () => {
    const resources = benchResources(1, 20);
    const team = resources.find((r) => r.id === 'm20-4') as CareTeam;
    const renamed = { ...team, name: 'Renamed team' };
    const rival = rivalLead(resources, 'm20-4', 'same-batch-rival');
    const paths = await files.export([...resources, renamed, rival], '-d');
    const summary = await importFiles(paths, options());
    expect(summary.rejected).toBe(1);
    expect(await versionsOf('CareTeam', 'm20-4')).toBe(2);
    expect(JSON.parse((await repo.read('CareTeam', 'm20-4'))!.content!)).toMatchObject({ name: 'Renamed team', meta: { versionId: '2' } });
    expect(await repo.read('CareTeam', 'same-batch-rival')).toBeUndefined();
    expect(await count("SELECT count(*) AS n FROM coordination_fact f JOIN resource r USING (rid) WHERE r.id = 'm20-4' AND f.kind = 'lead'")).toBe(1);
  });

  it("keeps a member's adjacent lines in one batch: a failure stores all or none of them", async () => {
    const resources = benchResources(2, 30).filter((r) => r.resourceType !== 'ServiceRequest');
    const orders = benchResources(2, 30).filter((r): r is ServiceRequest => r.resourceType === 'ServiceRequest');
    await importFiles(await files.export(resources, '-f'), options());
    // Member 30's three orders, then member 31's: batches of 2 run on to 3 to keep member 30's together.
    const [path] = await files.export(orders, '-f');
    const real = repo.importStore();
    let calls = 0;
    const failing: ImportStore = { ...real, transaction: (fn) => (++calls === 2 ? Promise.reject(new Error('simulated crash')) : real.transaction(fn)) };
    await expect(importFiles([path!], { ...options(), store: failing, batchSize: 2 })).rejects.toThrow('simulated crash');
    expect(await count("SELECT count(*) AS n FROM resource WHERE resource_type = 'ServiceRequest' AND id LIKE 'm30-%'")).toBe(3);
    expect(await count("SELECT count(*) AS n FROM resource WHERE resource_type = 'ServiceRequest' AND id LIKE 'm31-%'")).toBe(0);
  });

  it('resumes after a failed batch: nothing of it stored, the rest loaded once on the re-run', async () => {
    const resources: Resource[] = Array.from({ length: 23 }, (_, i) => ({ resourceType: 'Patient', id: `resume-${i}`, gender: 'female' }));
    const [path] = await files.export(resources, '-e');
    const real = repo.importStore();
    let calls = 0;
    const failing: ImportStore = {
      ...real,
      // The third batch's transaction fails after writing its rows (as a crash before COMMIT would).
      transaction: (fn) =>
        real.transaction(async (tx) => {
          const out = await fn(tx);
          if (++calls === 3) throw new Error('simulated crash');
          return out;
        }),
    };
    // Chunks of 2: the failed batch had sent three write statements before its transaction failed.
    await expect(importFiles([path!], { ...options(), store: failing, batchSize: 5, writeChunk: 2 })).rejects.toThrow('simulated crash');
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'resume-%'")).toBe(10);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'resume-%'")).toBe(10);
    expect(await count("SELECT count(*) AS n FROM search_token t JOIN resource r USING (rid) WHERE r.id LIKE 'resume-%'")).toBeGreaterThan(0);
    expect(await count("SELECT count(*) AS n FROM search_token WHERE rid NOT IN (SELECT rid FROM resource)")).toBe(0);
    const summary = await importFiles([path!], options({ batchSize: 5 }));
    expect(summary.written).toBe(13);
    expect(summary.files[0]).toMatchObject({ written: 23, rejected: 0, lines: 23 });
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'resume-%'")).toBe(23);
  });

  const batchVersion = (resource: Resource, versionId: number, content = JSON.stringify({ ...resource, meta: { versionId: String(versionId) } })): BatchVersion => ({
    version: { resourceType: resource.resourceType, id: resource.id!, versionId, lastUpdated: new Date().toISOString(), deleted: false, content },
    resource: resource as unknown as Record<string, unknown>,
  });

  it('fails the whole batch when a write statement sent without waiting fails: nothing of the batch is stored', async () => {
    const first: Resource = { resourceType: 'Patient', id: 'unwaited-1' };
    // Version 2 of a resource that has no version 1: not the successor of a current row.
    const stale: Resource = { resourceType: 'Patient', id: 'unwaited-2' };
    const attempt = repo.importStore().transaction(async (tx) => {
      await tx.writeVersions([batchVersion(first, 1)]);
      await tx.writeVersions([batchVersion(stale, 2)]);
      return 'done';
    });
    await expect(attempt).rejects.toThrow(/batch versions are successors of the current row/);
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'unwaited-%'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'unwaited-%'")).toBe(0);
  });

  it('stores a stored text holding a raw newline exactly (the contents are sent as one joined string otherwise)', async () => {
    const pretty: Resource = { resourceType: 'Patient', id: 'newline-1', gender: 'other' };
    const plain: Resource = { resourceType: 'Patient', id: 'newline-2', gender: 'male' };
    const text = JSON.stringify(pretty, null, 2);
    await repo.importStore().transaction((tx) => tx.writeVersions([batchVersion(pretty, 1, text), batchVersion(plain, 1)]));
    expect((await repo.read('Patient', 'newline-1'))!.content).toBe(text);
    expect(JSON.parse((await repo.read('Patient', 'newline-2'))!.content!)).toMatchObject({ gender: 'male' });
    expect(await count("SELECT count(*) AS n FROM resource_version WHERE id LIKE 'newline-%'")).toBe(2);
  });
});

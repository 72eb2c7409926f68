// A write's AuditEvent through the write transaction (WriteTx.appendAuditEvents), on both stores: the
// stored row is the one the audit store's own INSERT stores for the same record (every column), a write
// whose AuditEvent is refused stores nothing, a stale version stores neither, a read after a write in the
// transaction sees it, and a transaction that wrote nothing still stores its AuditEvent. (These held
// unchanged while the AuditEvent was tried as a CTE of the version write: docs/adr/0024, second addendum.)
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAuditRecord, type AuditFacts } from '../../src/audit/balp.js';
import type { AuditRecord } from '../../src/audit/types.js';
import type { StoredVersion, WriteMethod } from '../../src/fhir/repository.js';
import { SqlAuditStore } from '../../src/storage/audit-store.js';
import type { Database, TransactionQueryable } from '../../src/storage/database.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';

const at = (n: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();

function patient(id: string, n: number): Resource {
  return { resourceType: 'Patient', id, meta: { versionId: String(n), lastUpdated: at(n) }, name: [{ family: `F${n}` }], managingOrganization: { reference: 'Organization/o1' } };
}

const version = (r: Resource, deleted = false): StoredVersion => ({
  resourceType: r.resourceType,
  id: r.id!,
  versionId: Number(r.meta!.versionId),
  lastUpdated: r.meta!.lastUpdated!,
  deleted,
  ...(deleted ? {} : { content: JSON.stringify(r) }),
});

function auditOf(r: Resource, interaction: 'create' | 'update' | 'delete', n: number): AuditRecord {
  const facts: AuditFacts = {
    recorded: new Date(at(n)),
    interaction,
    status: interaction === 'create' ? 201 : 200,
    requestor: { clientId: 'c1', organization: 'Organization/o1' },
    resourceType: 'Patient',
    resources: [{ reference: `Patient/${r.id}`, versionId: n }],
    patients: [`Patient/${r.id}`],
  };
  return buildAuditRecord(facts);
}

/** The statements each transaction sent (BEGIN and COMMIT are the store's own and not counted). */
function counting(db: Database): { db: Database; perTransaction: string[][] } {
  const perTransaction: string[][] = [];
  const wrapped: Database = {
    ...db,
    query: (sql, params, options) => db.query(sql, params, options),
    exec: (sql) => db.exec(sql),
    transaction: (fn, options) =>
      db.transaction((tx) => {
        const sent: string[] = [];
        perTransaction.push(sent);
        const q: TransactionQueryable = {
          query: (sql, params, opts) => (sent.push(sql), tx.query(sql, params, opts)),
          exec: (sql) => (sent.push(sql), tx.exec(sql)),
          commitsOnlyAfter: (s) => tx.commitsOnlyAfter(s),
        };
        return fn(q);
      }, options),
  };
  return { db: wrapped, perTransaction };
}

const COLUMNS = 'recorded, type_code, subtype, action, outcome, client_id, organization, entity_refs, patient_refs, content';

describe.each(storageBackends())('a write and its AuditEvent on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  let perTransaction: string[][];
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    const c = counting(db);
    perTransaction = c.perTransaction;
    repo = new ResourceRepository(c.db, { readCacheEntries: 0 });
  });
  afterAll(async () => db.close());

  /** The stored row of an AuditEvent, every column but the id and seq (the content with its own id taken out). */
  async function stored(id: string): Promise<Record<string, unknown>> {
    const res = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM audit_event WHERE id = $1`, [id]);
    expect(res.rows).toHaveLength(1);
    const row = res.rows[0]!;
    const content = JSON.parse(row.content as string) as { id?: string };
    expect(content.id).toBe(id);
    delete content.id;
    return { ...row, recorded: new Date(row.recorded as string).toISOString(), content };
  }

  /** Writes one version with its AuditEvent; the statements the transaction sent. */
  async function write(r: Resource, method: WriteMethod, audit: AuditRecord, deleted = false): Promise<string[]> {
    await repo.transaction(async (tx) => {
      if (method !== 'POST') await tx.lockCurrent('Patient', r.id!);
      await tx.writeVersion(version(r, deleted), method, deleted ? undefined : (r as unknown as Record<string, unknown>));
      await tx.appendAuditEvents([audit]);
    });
    return perTransaction.at(-1)!;
  }

  it('create, update and delete: the AuditEvent stored exactly as the audit store stores the same record', async () => {
    const store = new SqlAuditStore(db);
    const steps = [
      { r: patient('a1', 1), method: 'POST', interaction: 'create', deleted: false, statements: 2 },
      { r: patient('a1', 2), method: 'PUT', interaction: 'update', deleted: false, statements: 3 },
      { r: patient('a1', 3), method: 'DELETE', interaction: 'delete', deleted: true, statements: 3 },
    ] as const;
    for (const [n, s] of steps.entries()) {
      const audit = auditOf(s.r, s.interaction, n + 1);
      const sent = await write(s.r, s.method, audit, s.deleted);
      // The write, then the AuditEvent (the update and delete lock the current version first).
      expect(sent).toHaveLength(s.statements);
      expect(sent.at(-1)).toMatch(/^INSERT INTO audit_event/);
      // The same record through the standalone INSERT (a fresh id): every other column identical.
      const twin = { ...audit, id: `${audit.id}-twin`, resource: { ...audit.resource, id: `${audit.id}-twin` } };
      await store.insert([twin]);
      expect(await stored(audit.id)).toEqual(await stored(twin.id));
      expect(JSON.parse((await store.read(audit.id))!)).toEqual(audit.resource);
    }
    const current = await repo.read('Patient', 'a1');
    expect(current).toMatchObject({ versionId: 3, deleted: true });
  });

  it('a write whose AuditEvent is refused stores nothing (create and update)', async () => {
    await write(patient('b1', 1), 'POST', auditOf(patient('b1', 1), 'create', 1));
    await db.exec(`
      CREATE FUNCTION refuse_fold_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit insert refused'; END $$;
      CREATE TRIGGER refuse_fold_audit BEFORE INSERT ON audit_event FOR EACH ROW WHEN (NEW.client_id = 'refused') EXECUTE FUNCTION refuse_fold_audit();`);
    try {
      const refused = (r: Resource, i: 'create' | 'update', n: number): AuditRecord => ({ ...auditOf(r, i, n), clientId: 'refused' });
      await expect(write(patient('b2', 1), 'POST', refused(patient('b2', 1), 'create', 1))).rejects.toThrow(/audit insert refused/);
      await expect(write(patient('b1', 2), 'PUT', refused(patient('b1', 2), 'update', 2))).rejects.toThrow(/audit insert refused/);
    } finally {
      await db.exec('DROP TRIGGER refuse_fold_audit ON audit_event; DROP FUNCTION refuse_fold_audit();');
    }
    expect(await repo.read('Patient', 'b2')).toBeUndefined();
    expect((await db.query(`SELECT 1 FROM resource_version WHERE id = 'b2'`)).rows).toEqual([]);
    expect(await repo.read('Patient', 'b1')).toMatchObject({ versionId: 1 });
    expect((await db.query(`SELECT 1 FROM search_string WHERE rid = (SELECT rid FROM resource WHERE id = 'b1') AND value_exact = 'F2'`)).rows).toEqual([]);
    expect((await db.query(`SELECT 1 FROM audit_event WHERE client_id = 'refused'`)).rows).toEqual([]);
  });

  it('a stale version fails the statement with its AuditEvent: neither is stored', async () => {
    const audit = auditOf(patient('c1', 5), 'update', 5);
    await expect(
      repo.transaction(async (tx) => {
        await tx.writeVersion(version(patient('c1', 5)), 'PUT', patient('c1', 5) as unknown as Record<string, unknown>);
        await tx.appendAuditEvents([audit]);
      }),
    ).rejects.toThrow(/not current/);
    expect((await db.query('SELECT 1 FROM audit_event WHERE id = $1', [audit.id])).rows).toEqual([]);
  });

  it('two writes in one transaction with one AuditEvent; a read between them sees the first', async () => {
    const audit = auditOf(patient('d1', 1), 'create', 1);
    let seen: StoredVersion | undefined;
    await repo.transaction(async (tx) => {
      await tx.writeVersion(version(patient('d1', 1)), 'POST', patient('d1', 1) as unknown as Record<string, unknown>);
      // A statement after a write is sent behind it, so it sees it.
      seen = await tx.read('Patient', 'd1');
      await tx.writeVersion(version(patient('d2', 1)), 'POST', patient('d2', 1) as unknown as Record<string, unknown>);
      await tx.appendAuditEvents([audit]);
    });
    expect(seen).toMatchObject({ id: 'd1', versionId: 1 });
    expect(await repo.read('Patient', 'd1')).toMatchObject({ versionId: 1 });
    expect(await repo.read('Patient', 'd2')).toMatchObject({ versionId: 1 });
    expect((await db.query('SELECT 1 FROM audit_event WHERE id = $1', [audit.id])).rows).toHaveLength(1);
  });

  it('a write without an AuditEvent, and an AuditEvent without a write', async () => {
    await repo.transaction((tx) => tx.writeVersion(version(patient('e1', 1)), 'POST', patient('e1', 1) as unknown as Record<string, unknown>));
    expect(perTransaction.at(-1)).toHaveLength(1);
    expect(await repo.read('Patient', 'e1')).toMatchObject({ versionId: 1 });
    const audit = auditOf(patient('e1', 1), 'create', 1);
    await repo.transaction((tx) => tx.appendAuditEvents([audit]));
    expect(perTransaction.at(-1)).toEqual([expect.stringMatching(/^INSERT INTO audit_event/)]);
    expect((await db.query('SELECT 1 FROM audit_event WHERE id = $1', [audit.id])).rows).toHaveLength(1);
  });

  it('a transaction whose function throws after a write stores neither the write nor anything else', async () => {
    const failure = new Error('refused after the write');
    await expect(
      repo.transaction(async (tx) => {
        await tx.writeVersion(version(patient('g1', 1)), 'POST', patient('g1', 1) as unknown as Record<string, unknown>);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await repo.read('Patient', 'g1')).toBeUndefined();
  });
});

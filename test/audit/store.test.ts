// The audit store on PostgreSQL and PGlite: insert-only rows, the search columns, the immutability
// trigger, and the group-committing recorder (concurrent events share INSERTs, each caller waits for its own).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAuditRecord, type AuditFacts } from '../../src/audit/balp.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import type { AuditRecord, AuditStore } from '../../src/audit/types.js';
import { parseAuditQuery } from '../../src/audit/search.js';
import { SqlAuditStore } from '../../src/storage/audit-store.js';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase, storageBackends } from '../support/db.js';

const facts = (over: Partial<AuditFacts> = {}): AuditFacts => ({
  recorded: new Date('2026-06-01T10:00:00Z'),
  interaction: 'read',
  status: 200,
  requestor: { clientId: 'c1', organization: 'Organization/o1' },
  resourceType: 'Patient',
  resources: [{ reference: 'Patient/p1', versionId: 2 }],
  patients: ['Patient/p1'],
  ...over,
});

describe.each(storageBackends())('audit store on %s', (backend) => {
  let db: Database;
  let store: SqlAuditStore;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    store = new SqlAuditStore(db);
  });
  afterAll(async () => db.close());

  it('stores the AuditEvent whole and finds it by its columns', async () => {
    const a = buildAuditRecord(facts());
    const b = buildAuditRecord(facts({ recorded: new Date('2026-06-02T10:00:00Z'), interaction: 'search-type', resources: [], patients: [], query: 'name=x', status: 404, requestor: { clientId: 'c2' } }));
    await store.insert([a, b]);
    expect(JSON.parse((await store.read(a.id))!)).toEqual(a.resource);
    expect(await store.read('missing')).toBeUndefined();
    const ids = async (q: string) => (await store.search(parseAuditQuery(new URLSearchParams(q)))).records.map((r) => r.id);
    expect(await ids('patient=p1')).toEqual([a.id]);
    expect(await ids('entity=Patient/p1')).toEqual([a.id]);
    expect(await ids('agent=Organization/o1')).toEqual([a.id]);
    expect(await ids('agent-identifier=c2')).toEqual([b.id]);
    expect(await ids('outcome=4')).toEqual([b.id]);
    expect(await ids('subtype=search-type')).toEqual([b.id]);
    expect(await ids('date=2026-06-01')).toEqual([a.id]);
    expect(await ids('date=ge2026-06-01&date=lt2026-06-03')).toEqual([b.id, a.id]);
    expect(await ids('date=ge2026-06-01&_sort=date')).toEqual([a.id, b.id]);
    expect(await ids('date=ge2026-06-01&_count=1&_offset=1')).toEqual([a.id]);
    expect((await store.search(parseAuditQuery(new URLSearchParams('date=ge2026-06-01&_count=0')))).total).toBe(2);
  });

  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    const r = buildAuditRecord(facts());
    await store.insert([r]);
    await expect(db.query(`UPDATE audit_event SET outcome = '8' WHERE id = $1`, [r.id])).rejects.toThrow(/immutable/);
    await expect(db.query('DELETE FROM audit_event WHERE id = $1', [r.id])).rejects.toThrow(/immutable/);
    await expect(db.query('TRUNCATE audit_event')).rejects.toThrow(/immutable/);
    expect(await store.read(r.id)).toBeDefined();
  });

  it('an insert inside a transaction that rolls back leaves nothing', async () => {
    const r = buildAuditRecord(facts());
    await expect(
      db.transaction(async (tx) => {
        await new SqlAuditStore(tx).insert([r]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await store.read(r.id)).toBeUndefined();
  });

  it('the recorder stores 200 concurrent events in fewer INSERTs, each caller resolved only once its event is stored', async () => {
    const batches: number[] = [];
    const counting: AuditStore = {
      insert: async (records) => {
        batches.push(records.length);
        await store.insert(records);
      },
      read: (id) => store.read(id),
      search: (q) => store.search(q),
    };
    const recorder = new AuditRecorder(counting, { maxBatch: 50 });
    const records = Array.from({ length: 200 }, () => buildAuditRecord(facts({ requestor: { clientId: 'burst' } })));
    await Promise.all(
      records.map(async (r) => {
        await recorder.record(r);
        expect(await store.read(r.id)).toBeDefined();
      }),
    );
    expect(batches.reduce((a, b) => a + b, 0)).toBe(200);
    expect(batches.length).toBeLessThan(200);
    expect(Math.max(...batches)).toBeLessThanOrEqual(50);
    expect((await store.search(parseAuditQuery(new URLSearchParams('agent-identifier=burst&_count=0')))).total).toBe(200);
  });

  it('a failed INSERT rejects the callers of that batch only', async () => {
    let calls = 0;
    const flaky: AuditStore = {
      insert: async (records: readonly AuditRecord[]) => {
        if (calls++ === 0) throw new Error('store down');
        await store.insert(records);
      },
      read: (id) => store.read(id),
      search: (q) => store.search(q),
    };
    const recorder = new AuditRecorder(flaky, { maxInFlight: 1 });
    const first = recorder.record(buildAuditRecord(facts()));
    await expect(first).rejects.toThrow('store down');
    const second = buildAuditRecord(facts());
    await recorder.record(second);
    expect(await store.read(second.id)).toBeDefined();
  });
});

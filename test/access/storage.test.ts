// The access projections on every backend: compartment members and relationship rows follow every
// write, a deletion keeps its members, decisions honour periods and opt-outs, the per-instance decision
// cache follows writes at once, searches and history filter in SQL, and the projection is rebuilt from
// the stored versions when behind (docs/adr/0008).
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSearchRequest } from '../../src/fhir/search/index.js';
import { ACCESS_VERSION } from '../../src/access/relationships.js';
import type { AccessFilter } from '../../src/access/viewer.js';
import type { Database } from '../../src/storage/database.js';
import { ensureAccessProjection } from '../../src/storage/member-access.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { episode, observation, optOut, sharingConsent } from './support.js';

describe.each(storageBackends())('access projections on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    expect(await ensureAccessProjection(db)).toBe(0);
    repo = new ResourceRepository(db);
    await repo.init();
  });
  afterAll(async () => repo.close());

  const versions = new Map<string, number>();
  async function put(resource: Resource | Record<string, unknown>, deleted = false): Promise<void> {
    const r = resource as { resourceType: string; id: string };
    const key = `${r.resourceType}/${r.id}`;
    const versionId = (versions.get(key) ?? 0) + 1;
    versions.set(key, versionId);
    const stored = { ...resource, meta: { versionId: String(versionId) } };
    await repo.transaction((tx) =>
      tx.writeVersion(
        { resourceType: r.resourceType, id: r.id, versionId, lastUpdated: new Date().toISOString(), deleted, ...(deleted ? {} : { content: JSON.stringify(stored) }) },
        deleted ? 'DELETE' : 'PUT',
        deleted ? undefined : (stored as Record<string, unknown>),
      ),
    );
  }
  const A: AccessFilter = { organization: 'Organization/org-a', now: Date.now() };
  const at = (iso: string): AccessFilter => ({ organization: 'Organization/org-a', now: Date.parse(iso) });
  const patient = (id: string, org?: string) => ({ resourceType: 'Patient', id, ...(org ? { managingOrganization: { reference: `Organization/${org}` } } : {}) });
  const searchIds = async (query: string, access?: AccessFilter) => {
    const { request } = parseSearchRequest('Observation', new URLSearchParams(query), { strict: true, maxCount: 100 });
    if (access) request.access = access;
    const page = await repo.search({ ...request, total: 'accurate' });
    return { ids: page.matches.map((m) => m.id).sort(), total: page.total };
  };

  it('records compartment members with each version; a deletion keeps them', async () => {
    await put(patient('s-1', 'org-a'));
    await put({ ...observation('s-obs', 's-1', { system: 's', code: 'c' }), performer: [{ reference: 'Patient/s-2' }, { reference: 'Practitioner/x' }] });
    await put({ resourceType: 'Organization', id: 's-org' });
    expect((await repo.read('Patient', 's-1'))?.members).toEqual(['s-1']);
    expect((await repo.read('Observation', 's-obs'))?.members).toEqual(['s-1', 's-2']);
    expect((await repo.read('Organization', 's-org'))?.members).toBeUndefined();
    await put({ resourceType: 'Observation', id: 's-obs' }, true);
    expect((await repo.read('Observation', 's-obs'))?.members).toEqual(['s-1', 's-2']);
    expect((await repo.readVersion('Observation', 's-obs', 2))?.members).toEqual(['s-1', 's-2']);
  });

  it('decides from relationships, their periods and opt-outs, and the cache follows every write', async () => {
    await put(patient('d-1'));
    expect(await repo.canSee(A, ['d-1'])).toBe(false);
    await put(episode('d-eoc', 'd-1', 'org-a', { start: '2026-01-01', end: '2026-06-30' }));
    expect(await repo.canSee(at('2026-03-01T00:00:00Z'), ['d-1'])).toBe(true);
    // The cached answer is not used past the period's end (2026-06-30 covers that whole day).
    expect(await repo.canSee(at('2026-06-30T23:59:59Z'), ['d-1'])).toBe(true);
    expect(await repo.canSee(at('2026-07-01T00:00:00Z'), ['d-1'])).toBe(false);
    expect(await repo.canSee(at('2025-12-31T00:00:00Z'), ['d-1'])).toBe(false);
    await put(sharingConsent('d-share', 'd-1', 'org-a'));
    expect(await repo.canSee(A, ['d-1'])).toBe(true);
    await put(optOut('d-out', 'd-1', 'org-a'));
    expect(await repo.canSee(A, ['d-1'])).toBe(false);
    await put({ resourceType: 'Consent', id: 'd-out' }, true);
    expect(await repo.canSee(A, ['d-1'])).toBe(true);
    expect(await repo.canSee({ organization: 'Organization/org-b', now: A.now }, ['d-1'])).toBe(false);
    expect(await repo.canSee(A, [])).toBe(true);
  });

  it('filters searches, totals and history in SQL', async () => {
    await put(patient('f-a', 'org-a'));
    await put(patient('f-b', 'org-b'));
    for (const [id, p] of [['f-oa', 'f-a'], ['f-ob', 'f-b'], ['f-oa2', 'f-a']] as const) await put(observation(id, p, { system: 'f', code: 'x' }));
    expect(await searchIds('code=f|x', A)).toEqual({ ids: ['f-oa', 'f-oa2'], total: 2 });
    expect(await searchIds('code=f|x')).toEqual({ ids: ['f-oa', 'f-oa2', 'f-ob'], total: 3 });
    const history = await repo.history({ resourceType: 'Observation', count: 100, access: A });
    expect(history.versions.map((v) => v.id)).not.toContain('f-ob');
    expect(history.total).toBe(history.versions.length);
    expect(await repo.transaction((tx) => tx.findMatches('Observation', new URLSearchParams('code=f|x'), A))).toEqual(['f-oa', 'f-oa2']);
  });

  it('rebuilds both projections from the stored versions when behind', async () => {
    const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM member_access');
    await db.query('UPDATE resource SET members = NULL');
    await db.query('UPDATE resource_version SET members = NULL');
    await db.query('DELETE FROM member_access');
    await db.query('UPDATE access_state SET version = 0');
    expect(await ensureAccessProjection(db)).toBeGreaterThan(0);
    expect((await db.query<{ version: number }>('SELECT version FROM access_state')).rows[0]?.version).toBe(ACCESS_VERSION);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM member_access')).rows[0]?.n).toBe(before.rows[0]?.n);
    const rows = await db.query<{ members: string[] | null }>("SELECT members FROM resource_version WHERE id = 's-obs' ORDER BY version_id");
    expect(rows.rows.map((r) => r.members)).toEqual([['s-1', 's-2'], ['s-1', 's-2']]);
    const fresh = new ResourceRepository(db, { readCacheEntries: 0 });
    expect(await fresh.canSee(A, ['f-a'])).toBe(true);
    expect(await fresh.canSee(A, ['f-b'])).toBe(false);
    expect(await searchIds('code=f|x', A)).toEqual({ ids: ['f-oa', 'f-oa2'], total: 2 });
  });
});

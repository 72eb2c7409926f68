// The coordination fact projection on every backend: it follows every write (create, update with status,
// period and member changes, delete), its SQL selection answers exactly what the in-memory definition
// (facts.ts factMatches) answers, and it is rebuilt from the stored resources when behind.
import type { CareTeam, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinationFacts, FACTS_VERSION } from '../../src/coordination/facts.js';
import type { FactQuery } from '../../src/coordination/facts.js';
import { MemoryReader } from '../../src/coordination/memory-reader.js';
import { periodRange } from '../../src/coordination/period.js';
import type { Database } from '../../src/storage/database.js';
import { ensureCoordinationFacts } from '../../src/storage/coordination-facts.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { careTeam, ORGS, PEOPLE, ROLES } from '../unit/coordination/builders.js';
import { scenario } from '../unit/coordination/generate.js';
import { openTestDatabase, storageBackends } from '../support/db.js';

describe.each(storageBackends())('coordination facts on %s', (backend) => {
  let db: Database;
  let repo: ResourceRepository;
  beforeAll(async () => {
    db = await openTestDatabase(backend);
    // As the server does at startup: a new database has nothing to project yet.
    expect(await ensureCoordinationFacts(db)).toBe(0);
    repo = new ResourceRepository(db, { readCacheEntries: 0 });
  });
  afterAll(async () => {
    await repo.close();
  });

  const versions = new Map<string, number>();
  /** Writes the next version of a resource (or a tombstone) the way the FHIR layer does. */
  async function put(resource: Resource, deleted = false): Promise<void> {
    const key = `${resource.resourceType}/${resource.id ?? ''}`;
    const versionId = (versions.get(key) ?? 0) + 1;
    versions.set(key, versionId);
    const stored = { ...resource, meta: { versionId: String(versionId) } };
    await repo.transaction((tx) =>
      tx.writeVersion(
        {
          resourceType: resource.resourceType,
          id: resource.id ?? '',
          versionId,
          lastUpdated: new Date().toISOString(),
          deleted,
          ...(deleted ? {} : { content: JSON.stringify(stored) }),
        },
        deleted ? 'DELETE' : 'PUT',
        deleted ? undefined : (stored as Record<string, unknown>),
      ),
    );
  }
  const find = (member: string, queries: FactQuery[]): Promise<string[]> =>
    repo.transaction(async (tx) => (await tx.findByFacts(member, queries)).map((json) => (JSON.parse(json) as Resource).id ?? ''));
  const leadDuring = (start: string, end?: string): FactQuery => ({ kind: 'lead', key: '', range: periodRange({ start, ...(end ? { end } : {}) }) });

  it('follows creates, status and period changes, member moves and deletes', async () => {
    const lead = (period: { start: string; end?: string }, status: CareTeam['status'] = 'active', patient = 'fa-member'): CareTeam =>
      careTeam('fa-team', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, period }], { status, patient });
    await put(lead({ start: '2026-01-01', end: '2026-06-30' }));
    expect(await find('fa-member', [leadDuring('2026-03-01', '2026-03-01')])).toEqual(['fa-team']);
    expect(await find('fa-member', [leadDuring('2026-07-01')])).toEqual([]);
    expect(await find('other-member', [leadDuring('2026-03-01', '2026-03-01')])).toEqual([]);

    await put(lead({ start: '2026-01-01', end: '2026-06-30' }, 'inactive'));
    expect(await find('fa-member', [leadDuring('2026-03-01', '2026-03-01')])).toEqual([]);

    await put(lead({ start: '2026-07-01' }));
    expect(await find('fa-member', [leadDuring('2026-03-01', '2026-03-01')])).toEqual([]);
    expect(await find('fa-member', [leadDuring('2030-01-01', '2030-01-01')])).toEqual(['fa-team']);

    await put(lead({ start: '2026-07-01' }, 'active', 'fb-member'));
    expect(await find('fa-member', [leadDuring('2030-01-01', '2030-01-01')])).toEqual([]);
    expect(await find('fb-member', [leadDuring('2030-01-01', '2030-01-01')])).toEqual(['fa-team']);

    await put(lead({ start: '2026-07-01' }, 'active', 'fb-member'), true);
    expect(await find('fb-member', [leadDuring('2030-01-01', '2030-01-01')])).toEqual([]);
    const rows = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM coordination_fact f JOIN resource r ON r.rid = f.rid WHERE r.resource_type = 'CareTeam' AND r.id = 'fa-team'`,
    );
    expect(rows.rows[0]?.n).toBe(0);
  });

  it('stores open periods as unbounded ranges and filters scope holders by stated organization', async () => {
    const team = careTeam(
      'fc-team',
      [
        { member: PEOPLE.nyRn, onBehalfOf: ORGS.mltcp, scopes: ['ltc'], period: { start: '2026-01-01' } },
        { member: ROLES.nySwAtHh, scopes: ['ltc'], period: { end: '2025-12-31' } },
      ],
      { patient: 'fc-member' },
    );
    await put(team);
    const ltc = (start: string, end: string, otherOrgThan?: string): FactQuery => ({
      kind: 'scope',
      key: 'ltc',
      range: periodRange({ start, end }),
      ...(otherOrgThan ? { otherOrgThan } : {}),
    });
    expect(await find('fc-member', [ltc('2099-01-01', '2099-01-01')])).toEqual(['fc-team']);
    expect(await find('fc-member', [ltc('1900-01-01', '1900-01-01')])).toEqual(['fc-team']);
    // The 2026 holding states VNS: excluded for VNS itself, not for another organization.
    expect(await find('fc-member', [ltc('2099-01-01', '2099-01-01', 'Organization/ny-vns-mltc')])).toEqual([]);
    expect(await find('fc-member', [ltc('2099-01-01', '2099-01-01', 'Organization/ny-cbc-hh')])).toEqual(['fc-team']);
    // The 1900 holding acts through a PractitionerRole (its organization is read at check time): never excluded for an organization.
    expect(await find('fc-member', [ltc('1900-01-01', '1900-01-01', 'Organization/ny-vns-mltc')])).toEqual(['fc-team']);
    const bounds = await db.query<{ lo_inf: boolean; hi_inf: boolean }>(
      `SELECT lower_inf(f.during) AS lo_inf, upper_inf(f.during) AS hi_inf FROM coordination_fact f JOIN resource r ON r.rid = f.rid
        WHERE r.id = 'fc-team' AND f.kind = 'team'`,
    );
    expect(bounds.rows).toEqual([{ lo_inf: true, hi_inf: true }]);
  });

  it('a query whose range is empty or runs backwards matches nothing (and is no SQL error)', async () => {
    const backwards: FactQuery = { kind: 'lead', key: '', range: { start: Date.UTC(2026, 6, 3), end: Date.UTC(2026, 6, 1) } };
    expect(await find('fc-member', [backwards])).toEqual([]);
    expect(await find('fc-member', [backwards, { kind: 'team', key: '', range: periodRange({ start: '2026-01-01' }) }])).toEqual(['fc-team']);
  });

  it('selects exactly what the in-memory definition selects, on generated records', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { stored, writes } = scenario(seed);
      const member = `gen-${seed}`;
      const moved = stored.map((r) => withMember(r, member));
      for (const r of moved) await put(r);
      // The queries a write would make (its own facts, of every kind), plus unbounded ones.
      const queries: FactQuery[] = writes
        .flatMap((w) => [...coordinationFacts(w.resource), ...coordinationFacts(w.previous)])
        .flatMap((f) => [{ kind: f.kind, key: f.key, range: f.range, ...(f.org ? { otherOrgThan: f.org } : {}) }]);
      for (const kind of ['team', 'lead', 'comprehensive-plan', 'split-plan'] as const) queries.push({ kind, key: '', range: { start: -Infinity, end: Infinity } });
      const memory = new MemoryReader(moved);
      for (const q of queries) {
        const expected = (await memory.withFacts(member, [q])).map((r) => r.id);
        expect(await find(member, [q]), `seed ${seed} ${JSON.stringify(q)}`).toEqual(expected);
      }
      expect(await find(member, queries)).toEqual((await memory.withFacts(member, queries)).map((r) => r.id));
    }
  });

  it('is rebuilt from the stored resources when its version is behind, and only then', async () => {
    const snapshot = async () =>
      (
        await db.query<{ row: string }>(
          `SELECT concat_ws('|', r.id, f.member_id, f.kind, f.key, f.org, f.during::text) AS row
             FROM coordination_fact f JOIN resource r ON r.rid = f.rid ORDER BY 1`,
        )
      ).rows.map((r) => r.row);
    const before = await snapshot();
    expect(before.length).toBeGreaterThan(100);
    expect(await ensureCoordinationFacts(db)).toBeUndefined();

    await db.query('DELETE FROM coordination_fact');
    await db.query('UPDATE coordination_fact_state SET version = 0');
    const projected = await ensureCoordinationFacts(db);
    expect(projected).toBeGreaterThan(100);
    expect(await snapshot()).toEqual(before);
    expect((await db.query<{ version: number }>('SELECT version FROM coordination_fact_state')).rows).toEqual([{ version: FACTS_VERSION }]);
    expect(await ensureCoordinationFacts(db)).toBeUndefined();
  });
});

/** The same resource for another member (generated records all use one member id). */
function withMember(r: Resource, member: string): Resource {
  const ref = { reference: `Patient/${member}` };
  const copy = { ...r, id: `${member}-${r.id ?? ''}` } as Resource & { subject?: unknown; patient?: unknown };
  if ('subject' in r) copy.subject = ref;
  if ('patient' in r) copy.patient = ref;
  return copy;
}

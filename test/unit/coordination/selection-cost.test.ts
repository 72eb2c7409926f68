// What a write reads of a member with a long history: with Rule.select, a CareTeam or ServiceRequest
// create that cannot collide with the member's stored teams/orders reads none of them (the benchmark's
// shape, bench/rules-cost.ts), while one that can still sees every candidate it collides with.
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { checkWrites } from '../../../src/coordination/engine.js';
import type { CoordinationReader, MemberRecordPart } from '../../../src/coordination/reader.js';
import { careTeam, create, episode, ORGS, PEOPLE, ROLES, ruleIdsOf, serviceRequest, world } from './builders.js';

const day = (k: number, base = '2020-01-01'): string => new Date(Date.parse(`${base}T00:00:00Z`) + k * 86_400_000).toISOString().slice(0, 10);
// Practitioner members acting onBehalfOf the Health Home: their organization is stated, so a holding of the
// same organization is no candidate (nor one through the same PractitionerRole: see below).
const hhTeam = (id: string, start: string) =>
  careTeam(id, [{ member: PEOPLE.nySw, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'], period: { start } }], { period: { start } });
const hhRequest = (id: string, d: string) => serviceRequest(id, { code: 'H0004', requester: ROLES.nySwAtHh, period: { start: d, end: d }, category: 'behavioral-health' });

/** Counts what the engine reads: whole parts, and (distinct) resources selected by facts. */
function counting(reader: ReturnType<typeof world>) {
  const ids = new Set<string>();
  const stats = {
    wholeParts: [] as MemberRecordPart[],
    get selected(): number {
      return ids.size;
    },
  };
  const r: CoordinationReader = {
    memberRecord: (p, parts = []) => {
      stats.wholeParts.push(...parts);
      return reader.memberRecord(p);
    },
    withFacts: async (p, q) => {
      const found: Resource[] = await reader.withFacts(p, q);
      for (const f of found) ids.add(`${f.resourceType}/${f.id ?? ''}`);
      return found;
    },
    read: (t, id) => reader.read(t, id),
  };
  return { r, stats };
}

describe('what a write reads of a member with 50 stored teams and 50 stored orders', () => {
  const history: Resource[] = [
    episode('hh-enrol', 'ny-health-home', ORGS.hh, { start: '2024-10-01' }),
    ...Array.from({ length: 50 }, (_, k) => hhTeam(`hh-team-${k}`, day(k, '2024-10-01'))),
    ...Array.from({ length: 50 }, (_, k) => hhRequest(`hh-sr-${k}`, day(k))),
  ];

  it('a new Health Home team holding the same scope as its other teams reads none of them', async () => {
    const { r, stats } = counting(world(...history));
    expect(await checkWrites([create(hhTeam('new-team', '2026-01-01'))], r)).toEqual([]);
    expect(stats.wholeParts).not.toContain('careTeams');
    expect(stats.selected).toBe(0);
  });

  it('a new order on a day no other order covers reads none of the stored orders', async () => {
    const { r, stats } = counting(world(...history));
    expect(await checkWrites([create(hhRequest('new-sr', '2030-01-01'))], r)).toEqual([]);
    expect(stats.wholeParts).not.toContain('serviceRequests');
    expect(stats.selected).toBe(0);
  });

  it('an order duplicating one stored order reads that one only, and is refused', async () => {
    const { r, stats } = counting(world(...history));
    expect(ruleIdsOf(await checkWrites([create(hhRequest('dup-sr', day(7)))], r))).toEqual(['no-duplicate-service']);
    expect(stats.selected).toBe(1);
  });

  it('another organization taking the scope reads only the holdings it overlaps, and is refused', async () => {
    const { r, stats } = counting(world(...history));
    const rival = careTeam('rival', [{ member: PEOPLE.nySw, onBehalfOf: ORGS.hh2, scopes: ['bh-and-out-of-plan'], period: { start: '2024-10-03', end: '2024-10-03' } }], {
      period: { start: '2024-10-03', end: '2024-10-03' },
    });
    expect(ruleIdsOf(await checkWrites([create(rival)], r))).toContain('single-coordinator-per-scope');
    // The teams started on 2024-10-01, -02 and -03 are open-ended, so they hold the scope that day.
    expect(stats.selected).toBe(3);
  });

  it('a new team through the same PractitionerRole as the stored holdings reads none of them (same role, same organization)', async () => {
    const roleTeam = (id: string, start: string) =>
      careTeam(id, [{ member: ROLES.nySwAtHh, scopes: ['bh-and-out-of-plan'], period: { start } }], { period: { start } });
    const stored = [episode('hh-enrol', 'ny-health-home', ORGS.hh, { start: '2024-10-01' }), ...Array.from({ length: 50 }, (_, k) => roleTeam(`role-team-${k}`, day(k, '2024-10-01')))];
    const { r, stats } = counting(world(...stored));
    expect(await checkWrites([create(roleTeam('new-role-team', '2026-01-01'))], r)).toEqual([]);
    expect(stats.selected).toBe(0);
  });
});

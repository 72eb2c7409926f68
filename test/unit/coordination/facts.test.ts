// coordinationFacts: what each resource state contributes to the projection the rules select by.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CodeSystems } from '../../../src/coordination/codes.js';
import { coordinationFacts, factMatches, FACTS_VERSION, memberFactsOf } from '../../../src/coordination/facts.js';
import { periodRange } from '../../../src/coordination/period.js';
import { careTeam, comprehensivePlan, MEMBER, ORGS, PEOPLE, ROLES, serviceRequest, splitPlan } from './builders.js';
import { scenario } from './generate.js';

const day = (d: string) => periodRange({ start: d, end: d });

describe('coordination facts', () => {
  it('an active team: its period, each lead and each scope holding (with the stated organization), participants clipped to the team', () => {
    const team = careTeam(
      'f-team',
      [
        { member: PEOPLE.nyRn, onBehalfOf: ORGS.mltcp, lead: true, scopes: ['ltc', 'care-transitions'], period: { start: '2025-06-01' } },
        // A PractitionerRole member acts for its role's organization, read at check time: the fact names the role.
        { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'], period: { start: '2026-02-01', end: '2026-03-31' } },
      ],
      { period: { start: '2026-01-01', end: '2026-12-31' } },
    );
    const year = periodRange({ start: '2026-01-01', end: '2026-12-31' });
    expect(coordinationFacts(team)).toEqual([
      { kind: 'team', key: '', range: year },
      { kind: 'lead', key: '', range: year },
      { kind: 'scope', key: 'ltc', range: year, org: 'Organization/ny-vns-mltc' },
      { kind: 'scope', key: 'care-transitions', range: year, org: 'Organization/ny-vns-mltc' },
      { kind: 'scope', key: 'bh-and-out-of-plan', range: periodRange({ start: '2026-02-01', end: '2026-03-31' }), org: 'PractitionerRole/ny-sw-okafor-cbc' },
    ]);
    expect(memberFactsOf(team)?.memberId).toBe(MEMBER);
  });

  it('inactive and entered-in-error teams, and participants outside the team period, have none', () => {
    const lead = { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true };
    expect(coordinationFacts(careTeam('f-inactive', [lead], { status: 'inactive' }))).toEqual([]);
    expect(coordinationFacts(careTeam('f-error', [lead], { status: 'entered-in-error' }))).toEqual([]);
    const outside = careTeam('f-outside', [{ ...lead, period: { start: '2024-01-01', end: '2024-12-31' } }], { period: { start: '2026-01-01' } });
    expect(coordinationFacts(outside).map((f) => f.kind)).toEqual(['team']);
  });

  it('an active order: one fact per service coding over its occurrence; proposals and closed requests have none', () => {
    const order = serviceRequest('f-sr', { code: 'T1019', requester: ROLES.nyRnAtMltcp, period: { start: '2026-02-01', end: '2026-07-31' } });
    expect(coordinationFacts(order)).toEqual([
      { kind: 'order', key: `${CodeSystems.hcpcs}|T1019`, range: periodRange({ start: '2026-02-01', end: '2026-07-31' }) },
    ]);
    const once = serviceRequest('f-once', { code: 'T1019', requester: ROLES.nyRnAtMltcp, occurrenceDateTime: '2026-04-01' });
    expect(coordinationFacts(once)[0]?.range).toEqual(day('2026-04-01'));
    expect(coordinationFacts(serviceRequest('f-prop', { code: 'T1019', requester: ROLES.nyRnAtMltcp, intent: 'proposal' }))).toEqual([]);
    expect(coordinationFacts(serviceRequest('f-done', { code: 'T1019', requester: ROLES.nyRnAtMltcp, status: 'completed' }))).toEqual([]);
  });

  it('an active plan: comprehensive and service-split facts over its period; a completed plan has none', () => {
    const split = splitPlan('f-plan', { appendix: 'A', parties: [ORGS.mltcp, ORGS.hh], activities: [], period: { start: '2026-01-01' } });
    expect(coordinationFacts(split).map((f) => f.kind)).toEqual(['comprehensive-plan', 'split-plan']);
    expect(coordinationFacts(comprehensivePlan('f-old', { start: '2025-01-01' }, 'completed'))).toEqual([]);
  });

  it('resources of other types, or without a Patient subject, project nothing', () => {
    expect(coordinationFacts(ORGS.mltcp)).toEqual([]);
    expect(memberFactsOf({ ...careTeam('f-group', [{ member: ROLES.nyRnAtMltcp, lead: true }]), subject: { reference: 'Group/g' } })).toBeUndefined();
  });

  it('a query matches facts of its kind and key that overlap it, except a stated organization equal to otherOrgThan', () => {
    const fact = { kind: 'scope' as const, key: 'ltc', range: periodRange({ start: '2026-01-01' }), org: 'Organization/a' };
    expect(factMatches(fact, { kind: 'scope', key: 'ltc', range: day('2026-05-01') })).toBe(true);
    expect(factMatches(fact, { kind: 'scope', key: 'ltc', range: day('2025-05-01') })).toBe(false);
    expect(factMatches(fact, { kind: 'scope', key: 'medical', range: day('2026-05-01') })).toBe(false);
    expect(factMatches(fact, { kind: 'scope', key: 'ltc', range: day('2026-05-01'), otherOrgThan: 'Organization/a' })).toBe(false);
    expect(factMatches(fact, { kind: 'scope', key: 'ltc', range: day('2026-05-01'), otherOrgThan: 'Organization/b' })).toBe(true);
    const { org: _org, ...unstated } = fact;
    expect(factMatches(unstated, { kind: 'scope', key: 'ltc', range: day('2026-05-01'), otherOrgThan: 'Organization/a' })).toBe(true);
  });

  it('an Organization member states itself; a team without status is active (a missing status must not hide a lead)', () => {
    const team = careTeam('f-org', [{ member: ORGS.county, scopes: ['waiver-case-management'] }, { member: ROLES.nyRnAtMltcp, lead: true }]);
    const { status: _status, ...noStatus } = team;
    const facts = coordinationFacts(noStatus);
    expect(facts.map((f) => f.kind)).toEqual(['team', 'scope', 'lead']);
    expect(facts[1]?.org).toBe('Organization/mn-hennepin');
  });

  it('what is derived is pinned to FACTS_VERSION', () => {
    // Stored projections are rebuilt at startup only when FACTS_VERSION grows. If this fails because
    // coordinationFacts (or a helper it uses: statuses, order intents, scopes, split detection) now
    // derives something else, bump FACTS_VERSION and record the new pair here (if only generate.ts
    // changed, only the hash moves).
    const corpus = Array.from({ length: 300 }, (_, i) => scenario(i + 1)).flatMap(({ stored, writes }) => [
      ...stored,
      ...writes.flatMap((w) => [w.resource, w.previous]),
    ]);
    const hash = createHash('sha256').update(JSON.stringify(corpus.map((r) => coordinationFacts(r)))).digest('hex').slice(0, 16);
    expect({ version: FACTS_VERSION, hash }).toEqual({ version: 2, hash: '49c25d38d488a146' });
  });
});

// Coordination rules under real concurrency: every attempt below is fine alone, and they all conflict
// with each other. Against PostgreSQL (CI: DATABASE_URL) 40 pooled connections run the transactions at
// the same time and the per-member advisory locks must serialise them; on PGlite they run one after the
// other. The assertions are the same on both.
import type { Bundle, CareTeam, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, ORGS, practitioner, nucc, serviceRequest } from '../../unit/coordination/builders.js';
import { defaultBackend } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { clean, count, forMember, member, post, seed, type Response } from './support.js';

let s: TestServer;
const PEOPLE_COUNT = 200;
/** Care managers cc-0 .. cc-199, all registered nurses. */
const careManagers = Array.from({ length: PEOPLE_COUNT }, (_, i) => practitioner(`cc-${i}`, [{ coding: nucc('163W00000X') }]));

beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
  const res = await s.request({
    method: 'POST',
    url: '/fhir',
    payload: {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: careManagers.map((p) => ({ resource: clean(p), request: { method: 'PUT', url: `Practitioner/${p.id ?? ''}` } })),
    },
  });
  expect(res.statusCode, res.body).toBe(200);
});
afterAll(async () => {
  await s.close();
});

/**
 * Every answer is either a success or a rule rejection for the given rule: 409 (conflict: a concurrent
 * write won the race) or 422 (the winner was already committed when this one started); never a 5xx.
 */
function classify(results: Response[], ruleId: string, success: number): { accepted: Response[]; rejected: Response[] } {
  const statuses = results.map((r) => r.statusCode);
  expect(statuses.filter((c) => c >= 500), results.find((r) => r.statusCode >= 500)?.body).toEqual([]);
  expect(statuses.filter((c) => c !== success && c !== 409 && c !== 422), results.find((r) => ![success, 409, 422].includes(r.statusCode))?.body).toEqual([]);
  const accepted = results.filter((r) => r.statusCode === success);
  const rejected = results.filter((r) => r.statusCode !== success);
  for (const r of rejected) {
    const issues = (JSON.parse(r.body) as OperationOutcome).issue ?? [];
    expect(issues.map((i) => i.details?.coding?.[0]?.code), r.body).toEqual([ruleId]);
    // The status follows the issue: 409 exactly when the issue says conflict.
    expect(issues[0]?.code === 'conflict', r.body).toBe(r.statusCode === 409);
    expect(issues[0]?.diagnostics ?? '').not.toBe('');
  }
  return { accepted, rejected };
}

async function teamsOf(m: string): Promise<CareTeam[]> {
  const res = await s.request({ method: 'GET', url: `/fhir/CareTeam?subject=Patient/${m}&_count=1000` });
  expect(res.statusCode, res.body).toBe(200);
  return ((JSON.parse(res.body) as Bundle<CareTeam>).entry ?? []).map((e) => e.resource).filter((r): r is CareTeam => r !== undefined);
}

const idOf = (r: Response): string => (JSON.parse(r.body) as Resource).id ?? '?';

describe('concurrent coordination writes', () => {
  it('200 parallel attempts to add a lead care manager for one member: exactly one lands', async () => {
    const m = await member(s, 'race-lead');
    const attempts = careManagers.map((p) => careTeam('x', [{ member: p, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] }], { patient: m }));
    const results = await Promise.all(attempts.map((t) => post(s, t)));
    const { accepted, rejected } = classify(results, 'single-lead', 201);
    expect(accepted).toHaveLength(1);
    expect(rejected).toHaveLength(PEOPLE_COUNT - 1);
    // On PostgreSQL all 200 are in flight together, so losers that arrived before the winner wrote lost a
    // race (409). PGlite runs each query synchronously on the event loop, so there the server really
    // receives most requests after the winner's write, and 422 is the right answer for them.
    const raced = rejected.filter((r) => r.statusCode === 409).length;
    if (defaultBackend() === 'postgres') expect(raced).toBeGreaterThan(rejected.length / 2);
    const winner = idOf(accepted[0]!);
    // Every loser names the winner's team as the lead already in place.
    for (const r of rejected) expect((JSON.parse(r.body) as OperationOutcome).issue?.[0]?.diagnostics).toContain(`CareTeam/${winner} participant[0]`);
    const teams = await teamsOf(m);
    expect(teams.map((t) => t.id)).toEqual([winner]);
    const leads = teams.flatMap((t) => (t.participant ?? []).filter((p) => p.role?.some((r) => r.coding?.some((c) => c.code === 'lead-care-manager'))));
    expect(leads).toHaveLength(1);
  });

  // A loser is told 409 exactly when the lead it collides with was committed after the loser's request
  // arrived. All 100 requests arrive before any of them is validated, so every loser lost a race: 409,
  // never 422 (main answered 422 to ~96 % of them, measuring arrival at the handler and the winner by
  // its lastUpdated, which is stamped before its rules run and its transaction commits).
  it.skipIf(defaultBackend() !== 'postgres')('100 concurrent lead creates on PostgreSQL: one 201, and all 99 losers get 409 conflict', async () => {
    const m = await member(s, 'race-lead-100');
    const attempts = careManagers.slice(0, 100).map((p) => careTeam('x', [{ member: p, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] }], { patient: m }));
    const results = await Promise.all(attempts.map((t) => post(s, t)));
    const { accepted, rejected } = classify(results, 'single-lead', 201);
    expect(accepted).toHaveLength(1);
    expect(rejected.map((r) => r.statusCode)).toEqual(Array.from({ length: 99 }, () => 409));
    for (const r of rejected) expect((JSON.parse(r.body) as OperationOutcome).issue?.[0]?.code).toBe('conflict');
    expect(await teamsOf(m)).toHaveLength(1);
  });

  it('two organizations racing (50 attempts each) for ltc for one member: exactly one organization holds it', async () => {
    const m = await member(s, 'race-scope');
    const attempts = careManagers.slice(0, 100).map((p, i) => {
      const org = i % 2 === 0 ? ORGS.mltcp : ORGS.map;
      return careTeam('x', [{ member: p, onBehalfOf: org, scopes: ['ltc'] }], { patient: m });
    });
    const results = await Promise.all(attempts.map((t) => post(s, t)));
    const { accepted, rejected } = classify(results, 'single-coordinator-per-scope', 201);
    // Two participants of the same organization may share a scope: all of the winner's 50 land, none of the other's.
    const holders = new Set(accepted.map((r) => (JSON.parse(r.body) as CareTeam).participant?.[0]?.onBehalfOf?.reference));
    expect(holders.size).toBe(1);
    expect(accepted).toHaveLength(50);
    expect(rejected).toHaveLength(50);
    const [holder] = [...holders];
    for (const r of rejected) expect((JSON.parse(r.body) as OperationOutcome).issue?.[0]?.diagnostics).toContain(`${holder ?? '?'} already holds ltc`);
    const stored = await teamsOf(m);
    expect(stored).toHaveLength(50);
    expect(new Set(stored.map((t) => t.participant?.[0]?.onBehalfOf?.reference))).toEqual(holders);
  });

  it('100 parallel identical personal care orders for one member: exactly one is stored', async () => {
    const m = await member(s, 'race-order');
    const order = forMember(serviceRequest('x', { code: 'T1019', requester: ORGS.asap, category: 'hcbs-waiver', period: { start: '2026-02-01', end: '2026-07-31' } }), m);
    const results = await Promise.all(Array.from({ length: 100 }, () => post(s, order)));
    const { accepted, rejected } = classify(results, 'no-duplicate-service', 201);
    expect(accepted).toHaveLength(1);
    expect(rejected).toHaveLength(99);
    for (const r of rejected) {
      const issue = (JSON.parse(r.body) as OperationOutcome).issue?.[0];
      expect(['duplicate', 'conflict']).toContain(issue?.code);
      expect(issue?.diagnostics).toContain(`ServiceRequest/${idOf(accepted[0]!)} already orders HCPCS T1019`);
    }
    expect(await count(s, 'ServiceRequest', `subject=Patient/${m}`)).toBe(1);
  });

  it('parallel lead handoff transactions and direct lead writes for one member never leave two leads', async () => {
    const m = await member(s, 'race-handoff');
    const first = await post(s, careTeam('x', [{ member: careManagers[0]!, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp], period: { start: '2026-01-01' } }], { patient: m }));
    expect(first.statusCode, first.body).toBe(201);
    const current = JSON.parse(first.body) as CareTeam;
    const ended: CareTeam = { ...current, participant: current.participant?.map((p) => ({ ...p, period: { start: '2026-01-01', end: '2026-06-30' } })) };
    // 20 handoff transactions (each ends the current lead and starts a different successor) race 20 plain lead creations.
    const handoffs = careManagers.slice(1, 21).map((p) =>
      s.request({
        method: 'POST',
        url: '/fhir',
        payload: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: clean(ended), request: { method: 'PUT', url: `CareTeam/${current.id ?? ''}`, ifMatch: 'W/"1"' } },
            {
              resource: clean(careTeam('x', [{ member: p, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp], period: { start: '2026-07-01' } }], { patient: m })),
              request: { method: 'POST', url: 'CareTeam' },
            },
          ],
        },
      }),
    );
    const direct = careManagers.slice(21, 41).map((p) => post(s, careTeam('x', [{ member: p, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp], period: { start: '2026-07-01' } }], { patient: m })));
    const results = await Promise.all([...handoffs, ...direct]);
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((c) => c >= 500), results.find((r) => r.statusCode >= 500)?.body).toEqual([]);
    // Direct creations conflict with the ongoing lead (or with the successor): all refused. Exactly one
    // handoff can apply its If-Match: W/"1"; the others get 412 (version moved on) or a rule rejection.
    expect(statuses.slice(20).every((c) => c === 409 || c === 422), statuses.join(',')).toBe(true);
    expect(statuses.slice(0, 20).filter((c) => c === 200)).toHaveLength(1);
    expect(statuses.slice(0, 20).every((c) => [200, 409, 412, 422].includes(c)), statuses.join(',')).toBe(true);
    const teams = await teamsOf(m);
    expect(teams).toHaveLength(2);
    const leads = teams.flatMap((t) => t.participant ?? []).map((p) => `${p.period?.start ?? ''}..${p.period?.end ?? ''}`).sort();
    expect(leads).toEqual(['2026-01-01..2026-06-30', '2026-07-01..']);
  });
});

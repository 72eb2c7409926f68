// The engine over all rules: realistic valid scenarios pass every rule, transactions are judged on their
// end state, and only violations a write introduces are reported.
import { describe, expect, it } from 'vitest';
import { checkWrites, checkWritesDetailed, lockOrder, membersOf } from '../../../src/coordination/engine.js';
import {
  careTeam,
  check,
  create,
  episode,
  MEMBER,
  optOut,
  ORGS,
  PEOPLE,
  remove,
  ROLES,
  ruleIdsOf,
  serviceRequest,
  splitPlan,
  update,
  world,
} from './builders.js';

const nyTeam = careTeam('ny-team', [
  { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc', 'care-transitions'] },
  { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'] },
]);
const nyPlan = splitPlan('ny-asa', {
  appendix: 'A',
  parties: [ORGS.mltcp, ORGS.hh],
  activities: [
    { service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp },
    { service: 'S5170', benefit: 'in-plan', party: ORGS.mltcp },
    { service: 'G9001', benefit: 'out-of-plan', party: ORGS.hh },
  ],
});
const nyRequest = serviceRequest('ny-pca', { code: 'T1019', requester: ROLES.nyRnAtMltcp, basedOn: 'CarePlan/ny-asa', category: 'state-plan-ltss' });

describe('coordination engine', () => {
  it('membersOf takes Patient subjects/patients only', () => {
    expect(membersOf(nyTeam)).toEqual([MEMBER]);
    expect(membersOf(episode('e', 'ny-mltcp', ORGS.mltcp))).toEqual([MEMBER]);
    expect(membersOf({ ...nyTeam, subject: { reference: 'Group/g1' } })).toEqual([]);
    expect(membersOf(ORGS.mltcp)).toEqual([]);
    // Any version suffix the search index accepts (so the member's record query and the locks agree).
    expect(membersOf({ ...nyTeam, subject: { reference: `Patient/${MEMBER}/_history/a_b` } })).toEqual([MEMBER]);
  });

  it('lockOrder includes the previous member of a moved resource, sorted', () => {
    const moved = { ...nyTeam, subject: { reference: 'Patient/a-member' } };
    expect(lockOrder([update(moved, nyTeam)])).toEqual(['a-member', MEMBER]);
  });

  it('accepts a complete NY MLTCP + Health Home record written as one transaction, under every rule', async () => {
    const enrol = episode('ny-enrol', 'ny-mltcp', ORGS.mltcp);
    const writes = [create(enrol), create(nyTeam), create(nyPlan), create(nyRequest)];
    expect(await checkWrites(writes, world())).toEqual([]);
  });

  it('accepts a complete MA ACO + LTSS CP record under every rule', async () => {
    const team = careTeam('ma-team', [
      { member: ROLES.acoCm, onBehalfOf: ORGS.aco, lead: true, scopes: ['medical', 'comprehensive', 'care-transitions'] },
      { member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, scopes: ['ltss-navigation'] },
      { member: PEOPLE.maCm, onBehalfOf: ORGS.asap, scopes: ['waiver-case-management'] },
    ]);
    const proposal = serviceRequest('ma-adh', { code: 'S5100', requester: ROLES.cpNavigator, intent: 'proposal', category: 'community-ltss', period: { start: '2026-03-01' } });
    const order = serviceRequest('ma-pca', { code: 'T1019', requester: ORGS.asap, category: 'hcbs-waiver' });
    const writes = [create(episode('ma-enrol', 'ma-aco', ORGS.aco)), create(team), create(proposal), create(order)];
    expect(await checkWrites(writes, world())).toEqual([]);
  });

  it('accepts a complete MN MSHO + Elderly Waiver record under every rule', async () => {
    const team = careTeam('mn-team', [
      { member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, lead: true, scopes: ['comprehensive', 'medical', 'waiver-case-management', 'care-transitions'] },
    ]);
    const meals = serviceRequest('mn-meals', { code: 'S5170', requester: ROLES.mnRnAtUcare, category: 'hcbs-waiver' });
    const writes = [create(episode('msho', 'mn-msho', ORGS.mnMco)), create(episode('ew', 'mn-elderly-waiver', ORGS.mnMco)), create(team), create(meals)];
    expect(await checkWrites(writes, world())).toEqual([]);
  });

  it('reports one issue per broken rule, each with the rule coding', async () => {
    const team = careTeam('bad-team', [
      { member: ROLES.cpNavigator, onBehalfOf: ORGS.ltssCp, lead: true, designation: false, scopes: ['ltc'] },
    ]);
    const issues = await checkWrites([create(team)], world(nyTeam));
    expect(ruleIdsOf(issues).sort()).toEqual(['lead-documented', 'scope-allowed-for-role', 'single-coordinator-per-scope', 'single-lead']);
    for (const i of issues) {
      expect(i.severity).toBe('error');
      expect(i.details?.coding?.[0]?.system).toBe('https://concord-fhir.org/fhir/CodeSystem/rule');
      expect(i.details?.text).toBeTruthy();
      expect(i.expression?.[0]).toMatch(/^CareTeam\.participant\[0\]/);
    }
  });

  it('tells the storage layer which resources a finding involves', async () => {
    const second = careTeam('hh-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh] }]);
    const findings = await checkWritesDetailed([create(second)], world(nyTeam));
    const lead = findings.find((f) => f.ruleId === 'single-lead');
    expect(lead?.involves).toEqual(expect.arrayContaining(['CareTeam/hh-team', 'CareTeam/ny-team']));
  });

  it('sees organizations created in the same transaction', async () => {
    const newHh = { ...ORGS.hh, id: 'ny-new-hh' };
    const team = careTeam('hh-team', [{ member: PEOPLE.nySw, onBehalfOf: newHh, scopes: ['bh-and-out-of-plan'] }]);
    const reader = world();
    expect(ruleIdsOf(await check(reader, [create(team)]))).toContain('scope-allowed-for-role');
    expect(await check(reader, [create(newHh), create(team)])).toEqual([]);
  });

  it('accepts deleting the lead\'s team, an enrolment or a consent when nothing depends on it', async () => {
    const consent = optOut('opt', ORGS.ltssCp, '2026-04-01');
    const enrol = episode('ny-enrol', 'ny-mltcp', ORGS.mltcp);
    const reader = world(nyTeam, nyPlan, nyRequest, consent, enrol);
    expect(await checkWrites([remove(nyTeam)], reader)).toEqual([]);
    expect(await checkWrites([remove(enrol)], reader)).toEqual([]);
    expect(await checkWrites([remove(consent)], reader)).toEqual([]);
  });

  it('judges both members when an update moves a resource to another member', async () => {
    const other = careTeam('other-team', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.hh] }], { patient: 'member-2' });
    const moved = { ...nyTeam, subject: { reference: 'Patient/member-2' } };
    const issues = await checkWrites([update(moved, nyTeam)], world(nyTeam, other));
    expect(ruleIdsOf(issues)).toContain('single-lead');
  });

  it('does not block an unrelated write because of a violation already in the record', async () => {
    const legacy = careTeam('legacy', [{ member: PEOPLE.maCm, onBehalfOf: ORGS.tpa, scopes: ['ltc'] }]);
    const renamed = { ...legacy, name: 'renamed' };
    expect(await checkWrites([update(renamed, legacy)], world(legacy))).toEqual([]);
    const worse = careTeam('legacy', [{ member: PEOPLE.maCm, onBehalfOf: ORGS.tpa, scopes: ['ltc', 'medical'] }]);
    expect(ruleIdsOf(await checkWrites([update(worse, legacy)], world(legacy)))).toEqual(['scope-allowed-for-role']);
  });

  it('ignores writes of resources the rules do not concern', async () => {
    expect(await checkWrites([create({ resourceType: 'Patient', id: MEMBER })], world(nyTeam))).toEqual([]);
  });
});

describe('record parts (Rule.reads)', () => {
  it('loads only the parts the triggered rules declare and refuses reads of undeclared parts', async () => {
    const requested: string[][] = [];
    const reader = world(nyTeam);
    const spy = {
      memberRecord: (id: string, parts?: readonly string[]) => {
        requested.push([...(parts ?? [])].sort());
        return reader.memberRecord(id);
      },
      read: reader.read.bind(reader),
    };
    await checkWrites([create(careTeam('t2', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: [] }]))], spy);
    // A CareTeam write never needs the member's plans or orders.
    expect(requested[0]).toEqual(['careTeams', 'consents', 'episodes']);
    const sneaky = {
      id: 'single-lead' as const,
      summary: 'reads plans without declaring them',
      source: 'test',
      appliesTo: ['CareTeam' as const],
      reads: ['careTeams' as const],
      check: (ctx: { record: { carePlans: unknown[] } }) => Promise.resolve(ctx.record.carePlans.length ? [] : []),
    };
    await expect(checkWrites([create(careTeam('t3', []))], reader, { rules: [sneaky as never] })).rejects.toThrow(/without declaring/);
  });
});

// split-complete over HTTP: every activity of a service split names service, benefit and responsible
// party; in-plan is the plan's, out-of-plan the Health Home's; a service appears once.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ORGS, splitPlan } from '../../unit/coordination/builders.js';
import type { ActivitySpec } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { expectAccepted, expectNotStored, expectRejected, expectVersion, forMember, member, put, seed, unprofiled } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const plan = (id: string, patient: string, acts: ActivitySpec[]) =>
  forMember(splitPlan(id, { appendix: 'A', parties: [ORGS.mltcp, ORGS.hh], activities: acts }), patient);

const complete: ActivitySpec[] = [
  { service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp },
  { service: 'S5170', benefit: 'in-plan', party: ORGS.mltcp },
  { service: 'G9001', benefit: 'out-of-plan', party: ORGS.hh },
];

describe('split-complete over HTTP', () => {
  it('accepts a complete MLTCP / Health Home split', async () => {
    const m = await member(s, 'split-ok');
    expectAccepted(await put(s, plan('split-ok', m, complete)), 201);
  });

  it('rejects an in-plan service assigned to the Health Home, naming the plan party', async () => {
    const m = await member(s, 'split-inplan');
    const res = await put(s, plan('split-inplan', m, [{ service: 'T1019', benefit: 'in-plan', party: ORGS.hh }, complete[2]!]));
    expectRejected(res, 'split-complete', {
      expression: ['CarePlan.activity[0].extension[0]'],
      diagnostics: ['HCPCS T1019 is in-plan but responsibleParty is Organization/ny-cbc-hh', 'the plan party is Organization/ny-vns-mltc'],
    });
    await expectNotStored(s, 'CarePlan', 'split-inplan');
  });

  it('rejects a service listed twice, pointing at the second', async () => {
    const m = await member(s, 'split-dup');
    const res = await put(s, plan('split-dup', m, [...complete, { service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp }]));
    expectRejected(res, 'split-complete', { expression: ['CarePlan.activity[3].extension[0]'], diagnostics: ['activity[0] already lists HCPCS T1019'] });
    await expectNotStored(s, 'CarePlan', 'split-dup');
  });

  it('rejects an update that drops the responsible party of an activity (no profile claimed), keeping the stored plan', async () => {
    const m = await member(s, 'split-upd');
    expectAccepted(await put(s, plan('split-upd', m, complete)), 201);
    const res = await put(s, unprofiled(plan('split-upd', m, [complete[0]!, { service: 'S5170', benefit: 'in-plan' }, complete[2]!])));
    expectRejected(res, 'split-complete', { expression: ['CarePlan.activity[1].extension[0]'], diagnostics: ['responsibleParty'] });
    await expectVersion(s, 'CarePlan', 'split-upd', '1');
  });
});

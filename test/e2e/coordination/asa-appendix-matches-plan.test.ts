// asa-appendix-matches-plan over HTTP: an MLTCP plan's service split is Appendix A, a MAP plan's Appendix B.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ORGS, splitPlan } from '../../unit/coordination/builders.js';
import type { ActivitySpec } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { expectAccepted, expectNotStored, expectRejected, forMember, member, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const activities = (plan: typeof ORGS.mltcp): ActivitySpec[] => [
  { service: 'T1019', benefit: 'in-plan', party: plan },
  { service: 'G9001', benefit: 'out-of-plan', party: ORGS.hh },
];

describe('asa-appendix-matches-plan over HTTP', () => {
  it('accepts an MLTCP split with Appendix A and a MAP split with Appendix B', async () => {
    const a = await member(s, 'asa-a');
    expectAccepted(await put(s, forMember(splitPlan('asa-a', { appendix: 'A', parties: [ORGS.mltcp, ORGS.hh], activities: activities(ORGS.mltcp) }), a)), 201);
    const b = await member(s, 'asa-b');
    expectAccepted(await put(s, forMember(splitPlan('asa-b', { appendix: 'B', parties: [ORGS.map, ORGS.hh], activities: activities(ORGS.map) }), b)), 201);
  });

  it('rejects an MLTCP split saying Appendix B, and stores nothing', async () => {
    const m = await member(s, 'asa-wrong');
    const plan = forMember(splitPlan('asa-wrong', { appendix: 'B', parties: [ORGS.mltcp, ORGS.hh], activities: activities(ORGS.mltcp) }), m);
    expectRejected(await put(s, plan), 'asa-appendix-matches-plan', {
      expression: ['CarePlan.extension[0]'],
      diagnostics: ['asa-appendix B', 'Organization/ny-vns-mltc is an MLTCP plan'],
    });
    await expectNotStored(s, 'CarePlan', 'asa-wrong');
  });

  it('rejects a MAP split saying Appendix A', async () => {
    const m = await member(s, 'asa-map-a');
    const plan = forMember(splitPlan('asa-map-a', { appendix: 'A', parties: [ORGS.map, ORGS.hh], activities: activities(ORGS.map) }), m);
    expectRejected(await put(s, plan), 'asa-appendix-matches-plan', { expression: ['CarePlan.extension[0]'], diagnostics: ['Organization/ny-elderplan-map is a MAP plan'] });
    await expectNotStored(s, 'CarePlan', 'asa-map-a');
  });
});

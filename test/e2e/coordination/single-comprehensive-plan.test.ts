// single-comprehensive-plan over HTTP: at most one active comprehensive CarePlan per member at any instant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comprehensivePlan } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectNotStored, expectRejected, expectVersion, forMember, member, post, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

describe('single-comprehensive-plan over HTTP', () => {
  it('accepts a plan of care that starts the day after the previous one ends, and a completed plan alongside', async () => {
    const m = await member(s, 'cp-seq');
    expectAccepted(await put(s, forMember(comprehensivePlan('cp-seq-1', { start: '2026-01-01', end: '2026-06-30' }), m)), 201);
    expectAccepted(await put(s, forMember(comprehensivePlan('cp-seq-2', { start: '2026-07-01' }), m)), 201);
    expectAccepted(await put(s, forMember(comprehensivePlan('cp-seq-3', { start: '2026-01-01' }, 'completed'), m)), 201);
  });

  it('rejects a second active comprehensive plan for an overlapping period, naming the current plan', async () => {
    const m = await member(s, 'cp-two');
    expectAccepted(await put(s, forMember(comprehensivePlan('cp-two-1', { start: '2026-01-01' }), m)), 201);
    expectRejected(await put(s, forMember(comprehensivePlan('cp-two-2', { start: '2026-04-01' }), m)), 'single-comprehensive-plan', {
      expression: ['CarePlan.category[0]'],
      diagnostics: ['CarePlan/cp-two-1 is already the member\'s comprehensive plan of care'],
    });
    await expectNotStored(s, 'CarePlan', 'cp-two-2');
    expectRejected(await post(s, forMember(comprehensivePlan('x', { start: '2025-06-01', end: '2026-01-01' }, 'on-hold'), m)), 'single-comprehensive-plan', {
      diagnostics: ['CarePlan/cp-two-1'],
    });
    expect(await count(s, 'CarePlan', `subject=Patient/${m}`)).toBe(1);
  });

  it('rejects reactivating a completed plan over the current one', async () => {
    const m = await member(s, 'cp-react');
    expectAccepted(await put(s, forMember(comprehensivePlan('cp-react-old', { start: '2025-01-01' }, 'completed'), m)), 201);
    expectAccepted(await put(s, forMember(comprehensivePlan('cp-react-new', { start: '2026-01-01' }), m)), 201);
    expectRejected(await put(s, forMember(comprehensivePlan('cp-react-old', { start: '2025-01-01' }, 'active'), m)), 'single-comprehensive-plan', {
      diagnostics: ['CarePlan/cp-react-new'],
    });
    await expectVersion(s, 'CarePlan', 'cp-react-old', '1');
  });
});

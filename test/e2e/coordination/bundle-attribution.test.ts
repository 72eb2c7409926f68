// A rule broken inside a transaction Bundle is reported against the entry that wrote the resource.
import type { OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { careTeam, ORGS, ROLES } from '../../unit/coordination/builders.js';
import type { ParticipantSpec } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { expectNotStored, member, seed, transaction } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

it('names Bundle.entry[i] in the rule issue of a rejected transaction', async () => {
  const m = await member(s, 'attr-1');
  const lead = (who: ParticipantSpec['member'], org: ParticipantSpec['onBehalfOf']): ParticipantSpec => ({ member: who, onBehalfOf: org, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: [] });
  const res = await transaction(s, [
    { resource: { resourceType: 'Basic', id: 'attr-noise', code: { text: 'unrelated' } }, method: 'PUT', url: 'Basic/attr-noise' },
    { resource: careTeam('attr-a', [lead(ROLES.nyRnAtMltcp, ORGS.mltcp)], { patient: m }), method: 'PUT', url: 'CareTeam/attr-a' },
    { resource: careTeam('attr-b', [lead(ROLES.nySwAtHh, ORGS.hh)], { patient: m }), method: 'PUT', url: 'CareTeam/attr-b' },
  ]);
  expect(res.statusCode).toBe(422);
  const oo = JSON.parse(res.body) as OperationOutcome;
  const issue = oo.issue.find((i) => i.details?.coding?.[0]?.code === 'single-lead');
  expect(issue?.diagnostics).toMatch(/^Bundle\.entry\[[12]\] \(PUT CareTeam\/attr-[ab]\)/);
  expect(issue?.expression?.some((e) => /^Bundle\.entry\[[12]\]\.resource\.participant\[0\]/.test(e))).toBe(true);
  await expectNotStored(s, 'CareTeam', 'attr-a');
  await expectNotStored(s, 'Basic', 'attr-noise');
});

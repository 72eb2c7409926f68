// coordinator-qualified over HTTP: an MSHO / MSC+ / SNBC member's lead is a qualified professional
// (and for MSHO / MSC+ a certified assessor) for the whole lead period.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { careTeam, episode, ORGS, PEOPLE, ROLES } from '../../unit/coordination/builders.js';
import type { ParticipantSpec } from '../../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { count, expectAccepted, expectNotStored, expectRejected, forMember, member, put, seed } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const lead = (who: Resource = ROLES.mnRnAtUcare): ParticipantSpec => ({ member: who, onBehalfOf: ORGS.mnMco, lead: true, scopes: ['comprehensive'] });

describe('coordinator-qualified over HTTP', () => {
  it('accepts an RN certified assessor as MSHO care coordinator, and a licensed social worker for SNBC', async () => {
    const a = await member(s, 'cq-msho');
    expectAccepted(await put(s, forMember(episode('cq-msho-ep', 'mn-msho', ORGS.mnMco), a)), 201);
    expectAccepted(await put(s, careTeam('cq-msho', [lead()], { patient: a })), 201);
    const b = await member(s, 'cq-snbc');
    expectAccepted(await put(s, forMember(episode('cq-snbc-ep', 'mn-snbc', ORGS.mnMco), b)), 201);
    expectAccepted(await put(s, careTeam('cq-snbc', [lead(ROLES.mnSwAtUcare)], { patient: b })), 201);
  });

  it('rejects a social worker who is not a certified assessor as MSHO care coordinator, and stores nothing', async () => {
    const m = await member(s, 'cq-sw');
    expectAccepted(await put(s, forMember(episode('cq-sw-ep', 'mn-msho', ORGS.mnMco), m)), 201);
    expectRejected(await put(s, careTeam('cq-sw', [lead(ROLES.mnSwAtUcare)], { patient: m })), 'coordinator-qualified', {
      expression: ['CareTeam.participant[0].member'],
      diagnostics: ['PractitionerRole/mn-sw-johnson-ucare has no certified-assessor qualification', 'EpisodeOfCare/cq-sw-ep'],
    });
    await expectNotStored(s, 'CareTeam', 'cq-sw');
  });

  it('rejects a lead with no professional qualification for SNBC', async () => {
    const m = await member(s, 'cq-clerk');
    expectAccepted(await put(s, forMember(episode('cq-clerk-ep', 'mn-snbc', ORGS.mnMco), m)), 201);
    expectRejected(await put(s, careTeam('cq-clerk', [lead(PEOPLE.mnClerk)], { patient: m })), 'coordinator-qualified', {
      expression: ['CareTeam.participant[0].member'],
      diagnostics: ['Practitioner/mn-clerk-berg'],
    });
    await expectNotStored(s, 'CareTeam', 'cq-clerk');
  });

  it('rejects enrolling in MSC+ a member whose current lead is not a certified assessor, naming that lead', async () => {
    const m = await member(s, 'cq-enrol');
    expectAccepted(await put(s, careTeam('cq-enrol', [lead(ROLES.mnSwAtUcare)], { patient: m })), 201);
    expectRejected(await put(s, forMember(episode('cq-enrol-ep', 'mn-msc-plus', ORGS.mnMco), m)), 'coordinator-qualified', {
      expression: ['EpisodeOfCare.type[0]'],
      diagnostics: ['CareTeam/cq-enrol participant[0]'],
    });
    await expectNotStored(s, 'EpisodeOfCare', 'cq-enrol-ep');
    expect(await count(s, 'EpisodeOfCare', `patient=Patient/${m}`)).toBe(0);
  });
});

// waiver-case-manager-matches-waiver over HTTP: disability waiver case management is a county's or
// tribal nation's; Elderly Waiver case management of an MSHO/MSC+ member is the lead's organization's.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { careTeam, episode, ORGS, PEOPLE, ROLES } from '../../unit/coordination/builders.js';
import type { ParticipantSpec } from '../../unit/coordination/builders.js';
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

const mcoLead: ParticipantSpec = { member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, lead: true, scopes: ['comprehensive'] };
const countyWcm: ParticipantSpec = { member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.county, scopes: ['waiver-case-management'] };

async function enrol(patient: string, ...programs: Array<'mn-msho' | 'mn-elderly-waiver' | 'mn-disability-waiver'>): Promise<void> {
  for (const p of programs) {
    expectAccepted(await put(s, forMember(episode(`${patient}-${p}`, p, p === 'mn-disability-waiver' ? ORGS.county : ORGS.mnMco), patient)), 201);
  }
}

describe('waiver-case-manager-matches-waiver over HTTP', () => {
  it('accepts the county on disability waiver case management, and the lead\'s MCO on Elderly Waiver case management', async () => {
    const a = await member(s, 'wcm-dw');
    await enrol(a, 'mn-msho', 'mn-disability-waiver');
    expectAccepted(await put(s, careTeam('wcm-dw', [mcoLead, countyWcm], { patient: a })), 201);
    const b = await member(s, 'wcm-ew');
    await enrol(b, 'mn-msho', 'mn-elderly-waiver');
    expectAccepted(await put(s, careTeam('wcm-ew', [{ ...mcoLead, scopes: ['comprehensive', 'waiver-case-management'] }], { patient: b })), 201);
  });

  it('rejects a waiver agency on Elderly Waiver case management while the lead works for the MCO, naming the lead; accepts the county in its dual role', async () => {
    const m = await member(s, 'wcm-county-ew');
    await enrol(m, 'mn-msho', 'mn-elderly-waiver');
    const agencyWcm: ParticipantSpec = { ...countyWcm, onBehalfOf: ORGS.asap };
    expectRejected(await put(s, careTeam('wcm-agency-ew', [mcoLead, agencyWcm], { patient: m })), 'waiver-case-manager-matches-waiver', {
      expression: ['CareTeam.participant[1].extension[0]'],
      diagnostics: ['Organization/ma-springwell holds waiver-case-management', 'CareTeam/wcm-agency-ew participant[0] (Organization/mn-ucare)'],
    });
    await expectNotStored(s, 'CareTeam', 'wcm-agency-ew');
    // Contract 2026-12: "... or by a county or tribal-nation in its dual role".
    expectAccepted(await put(s, careTeam('wcm-county-ew', [mcoLead, countyWcm], { patient: m })), 201);
  });

  // Contract 2026-12: with no lead, only the mco managing that MSHO/MSC+ enrolment (main accepted any mco).
  it('rejects another MCO holding Elderly Waiver case management while there is no lead', async () => {
    const m = await member(s, 'wcm-no-lead');
    await enrol(m, 'mn-msho', 'mn-elderly-waiver');
    const otherMco: ParticipantSpec = { ...countyWcm, onBehalfOf: ORGS.mnMco2 };
    expectRejected(await put(s, careTeam('wcm-no-lead', [otherMco], { patient: m })), 'waiver-case-manager-matches-waiver', {
      diagnostics: ['not the MCO managing'],
    });
  });

  it('rejects enrolling in a disability waiver while a waiver agency holds waiver case management, at the EpisodeOfCare', async () => {
    const m = await member(s, 'wcm-enrol');
    await enrol(m, 'mn-msho');
    expectAccepted(await put(s, careTeam('wcm-enrol', [mcoLead, { member: PEOPLE.maCm, onBehalfOf: ORGS.asap, scopes: ['waiver-case-management'] }], { patient: m })), 201);
    expectRejected(await put(s, forMember(episode('wcm-enrol-dw', 'mn-disability-waiver', ORGS.county), m)), 'waiver-case-manager-matches-waiver', {
      expression: ['EpisodeOfCare.type[0]'],
      diagnostics: ['CareTeam/wcm-enrol participant[1]'],
    });
    await expectNotStored(s, 'EpisodeOfCare', 'wcm-enrol-dw');
  });
});

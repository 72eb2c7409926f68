// Gaining and losing access over HTTP (auth on): each relationship of the contract's Access section
// grants it, the opt-out removes it on the next request (also on another instance), and a client
// writes only as its organization (docs/adr/0008).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl } from '../support/db.js';
import { CODE, episode, observation, optOut, seed, sharingConsent, startWorld, type World } from './support.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
  await seed(w);
});
afterAll(async () => w.server.close());

const status = async (token: string, url: string) => (await w.as(token, 'GET', url)).statusCode;
const put = async (token: string, resource: { resourceType: string; id: string }) => w.as(token, 'PUT', `/fhir/${resource.resourceType}/${resource.id}`, resource);
const member = (id: string, org: string) => ({ resourceType: 'Patient', id, name: [{ family: id }], managingOrganization: { reference: `Organization/${org}` } });

describe('relationships grant access', () => {
  it('a data-sharing Consent grants access; the opt-out removes it on the next request, whatever else holds', async () => {
    expect(await status(w.a, '/fhir/Patient/pb')).toBe(404);
    expect((await put(w.b, sharingConsent('share-b-a', 'pb', 'org-a'))).statusCode).toBe(201);
    expect(await status(w.a, '/fhir/Patient/pb')).toBe(200);
    expect(await status(w.a, '/fhir/Observation/obs-b')).toBe(200);
    // A resource in both members' compartments is visible once both are.
    expect(await status(w.a, '/fhir/Observation/obs-both')).toBe(200);
    expect((await put(w.b, optOut('optout-b-a', 'pb', 'org-a'))).statusCode).toBe(201);
    expect(await status(w.a, '/fhir/Patient/pb')).toBe(404);
    expect(await status(w.a, '/fhir/Observation/obs-b')).toBe(404);
    expect((JSON.parse((await w.as(w.a, 'GET', '/fhir/Observation?subject=Patient/pb')).body) as { entry?: unknown[] }).entry ?? []).toHaveLength(0);
    // Also for the organization that registered the member: an opt-out beats every relationship.
    expect((await put(w.admin, optOut('optout-a-a', 'pa', 'org-a'))).statusCode).toBe(201);
    expect(await status(w.a, '/fhir/Patient/pa')).toBe(404);
    expect((await w.as(w.admin, 'DELETE', '/fhir/Consent/optout-a-a')).statusCode).toBe(204);
    expect(await status(w.a, '/fhir/Patient/pa')).toBe(200);
    expect((await w.as(w.admin, 'DELETE', '/fhir/Consent/optout-b-a')).statusCode).toBe(204);
    expect(await status(w.a, '/fhir/Patient/pb')).toBe(200);
    expect((await w.as(w.admin, 'DELETE', '/fhir/Consent/share-b-a')).statusCode).toBe(204);
    expect(await status(w.a, '/fhir/Patient/pb')).toBe(404);
  });

  it('managing an enrolment grants access while the enrolment is active and its period lasts', async () => {
    await put(w.b, member('m-eoc', 'org-b'));
    expect(await status(w.a, '/fhir/Patient/m-eoc')).toBe(404);
    expect((await put(w.b, episode('eoc-m', 'm-eoc', 'org-a'))).statusCode).toBe(201);
    expect(await status(w.a, '/fhir/Patient/m-eoc')).toBe(200);
    expect((await put(w.b, episode('eoc-m', 'm-eoc', 'org-a', { start: '2020-01-01', end: '2021-12-31' }))).statusCode).toBe(200);
    expect(await status(w.a, '/fhir/Patient/m-eoc')).toBe(404);
    expect((await put(w.b, episode('eoc-m', 'm-eoc', 'org-a', { start: '2999-01-01' }))).statusCode).toBe(200);
    expect(await status(w.a, '/fhir/Patient/m-eoc')).toBe(404);
  });

  it('a participant of an active CareTeam, directly or through a PractitionerRole, has access', async () => {
    await put(w.b, member('m-team', 'org-b'));
    await put(w.admin, { resourceType: 'Practitioner', id: 'pr-a', name: [{ family: 'Ay' }] } as never);
    await put(w.admin, { resourceType: 'PractitionerRole', id: 'role-a', practitioner: { reference: 'Practitioner/pr-a' }, organization: { reference: 'Organization/org-a' } } as never);
    const team = (teamStatus: string, viaRole: boolean) => ({
      resourceType: 'CareTeam',
      id: 'team-m',
      status: teamStatus,
      subject: { reference: 'Patient/m-team' },
      participant: [
        { member: { reference: 'Organization/org-b' }, period: { start: '2025-01-01' } },
        viaRole ? { member: { reference: 'PractitionerRole/role-a' }, period: { start: '2025-01-01' } } : { member: { reference: 'Organization/org-a' }, period: { start: '2025-01-01' } },
      ],
    });
    expect(await status(w.a, '/fhir/Patient/m-team')).toBe(404);
    expect((await put(w.b, team('active', false))).statusCode).toBe(201);
    expect(await status(w.a, '/fhir/Patient/m-team')).toBe(200);
    expect((await put(w.b, team('inactive', false))).statusCode).toBe(200);
    expect(await status(w.a, '/fhir/Patient/m-team')).toBe(404);
    expect((await put(w.b, team('active', true))).statusCode).toBe(200);
    expect(await status(w.a, '/fhir/Patient/m-team')).toBe(200);
    // The role moves to another organization: its access moves with it.
    await put(w.admin, { resourceType: 'PractitionerRole', id: 'role-a', practitioner: { reference: 'Practitioner/pr-a' }, organization: { reference: 'Organization/org-c' } } as never);
    expect(await status(w.a, '/fhir/Patient/m-team')).toBe(404);
  });

  it('the requester or performer of a ServiceRequest has access', async () => {
    await put(w.b, member('m-sr', 'org-b'));
    const sr = { resourceType: 'ServiceRequest', id: 'sr-m', status: 'active', intent: 'proposal', subject: { reference: 'Patient/m-sr' }, requester: { reference: 'Organization/org-b' }, performer: [{ reference: 'Organization/org-a' }] };
    expect(await status(w.a, '/fhir/Patient/m-sr')).toBe(404);
    expect((await put(w.b, sr)).statusCode).toBe(201);
    expect(await status(w.a, '/fhir/Patient/m-sr')).toBe(200);
    expect(await status(w.a, '/fhir/ServiceRequest/sr-m')).toBe(200);
  });
});

describe('writes as the client\'s organization', () => {
  it('registers a member only under its own organization, and then sees it', async () => {
    const none = { resourceType: 'Patient', name: [{ family: 'Nobody' }] };
    expect((await w.as(w.a, 'POST', '/fhir/Patient', none)).statusCode).toBe(403);
    expect((await w.as(w.a, 'POST', '/fhir/Patient', { ...none, managingOrganization: { reference: 'Organization/org-b' } })).statusCode).toBe(403);
    const created = await w.as(w.a, 'POST', '/fhir/Patient', { ...none, managingOrganization: { reference: 'Organization/org-a' } });
    expect(created.statusCode).toBe(201);
    const id = (JSON.parse(created.body) as { id: string }).id;
    expect(await status(w.a, `/fhir/Patient/${id}`)).toBe(200);
    expect(await status(w.b, `/fhir/Patient/${id}`)).toBe(404);
  });

  it('never writes into the record of a member it cannot see, nor reveals or overwrites it', async () => {
    const forbidden = await w.as(w.a, 'POST', '/fhir/Observation', { ...observation('x', 'pb', CODE), id: undefined });
    expect(forbidden.statusCode).toBe(403);
    expect((await w.as(w.a, 'POST', '/fhir/Observation', { ...observation('x', 'pa', CODE), id: undefined })).statusCode).toBe(201);
    expect((await put(w.a, { ...observation('obs-b', 'pa', CODE) })).statusCode).toBe(404);
    expect((await put(w.a, { ...member('pb', 'org-a') })).statusCode).toBe(404);
    expect((await w.as(w.a, 'PATCH', '/fhir/Observation/obs-b', [{ op: 'replace', path: '/status', value: 'amended' }], { 'content-type': 'application/json-patch+json' })).statusCode).toBe(404);
    expect((await w.as(w.a, 'DELETE', '/fhir/Observation/obs-b')).statusCode).toBe(404);
    expect((await w.as(w.a, 'DELETE', '/fhir/Patient/pb')).statusCode).toBe(404);
    const b = JSON.parse((await w.as(w.admin, 'GET', '/fhir/Observation/obs-b')).body) as { meta: { versionId: string }; status: string };
    expect(b).toMatchObject({ meta: { versionId: '1' }, status: 'final' });
    expect(JSON.parse((await w.as(w.admin, 'GET', '/fhir/Patient/pb')).body)).toMatchObject({ meta: { versionId: '1' }, managingOrganization: { reference: 'Organization/org-b' } });
  });

  it('CareTeams, ServiceRequests and lead designations only as its organization', async () => {
    const team = (participantOrg: string, designatedBy?: string) => ({
      resourceType: 'CareTeam',
      id: 'team-a',
      status: 'active',
      subject: { reference: 'Patient/pa' },
      participant: [
        {
          member: { reference: `Organization/${participantOrg}` },
          period: { start: '2025-01-01' },
          ...(designatedBy
            ? { extension: [{ url: 'https://concord-fhir.org/fhir/StructureDefinition/lead-designation', extension: [{ url: 'designatedBy', valueReference: { reference: `Organization/${designatedBy}` } }] }] }
            : {}),
        },
      ],
    });
    const refused = await put(w.a, team('org-b'));
    expect(refused.statusCode).toBe(403);
    expect((JSON.parse(refused.body) as { issue: { code: string }[] }).issue[0]!.code).toBe('forbidden');
    expect((await put(w.a, team('org-b', 'org-a'))).statusCode).toBe(201);
    expect((await put(w.a, team('org-a'))).statusCode).toBe(200);
    const sr = (requester: string) => ({ resourceType: 'ServiceRequest', id: 'sr-a', status: 'active', intent: 'proposal', subject: { reference: 'Patient/pa' }, requester: { reference: `Organization/${requester}` } });
    expect((await put(w.a, sr('org-b'))).statusCode).toBe(403);
    expect((await put(w.a, sr('org-a'))).statusCode).toBe(201);
    expect(await status(w.admin, '/fhir/ServiceRequest/sr-a')).toBe(200);
  });

  it('edits only its own directory records', async () => {
    expect((await put(w.a, { resourceType: 'Organization', id: 'org-b', name: 'Taken over' } as never)).statusCode).toBe(403);
    expect((await put(w.a, { resourceType: 'Organization', id: 'org-new', name: 'Another' } as never)).statusCode).toBe(403);
    expect((await put(w.a, { resourceType: 'Organization', id: 'org-a', name: 'Plan A, renamed' } as never)).statusCode).toBe(200);
    const role = (id: string, org: string, practitioner = 'pr-b') => ({ resourceType: 'PractitionerRole', id, practitioner: { reference: `Practitioner/${practitioner}` }, organization: { reference: `Organization/${org}` } });
    expect((await put(w.a, role('role-x', 'org-b'))).statusCode).toBe(403);
    expect((await put(w.admin, role('role-b', 'org-b'))).statusCode).toBe(201);
    expect((await put(w.a, role('role-b', 'org-a'))).statusCode).toBe(403);
    // pr-b works for org-b: org-a may not edit it; a practitioner of its own it may.
    expect((await put(w.a, { resourceType: 'Practitioner', id: 'pr-b', name: [{ family: 'Changed' }] } as never)).statusCode).toBe(403);
    expect((await put(w.a, { resourceType: 'Practitioner', id: 'pr-own', name: [{ family: 'Own' }] } as never)).statusCode).toBe(201);
    expect((await put(w.a, role('role-own', 'org-a', 'pr-own'))).statusCode).toBe(201);
    expect((await put(w.a, { resourceType: 'Practitioner', id: 'pr-own', name: [{ family: 'Own', given: ['Jo'] }] } as never)).statusCode).toBe(200);
    expect(JSON.parse((await w.as(w.a, 'GET', '/fhir/Organization/org-b')).body)).toMatchObject({ name: 'Health Home B' });
  });
});

describe('across instances', () => {
  it.skipIf(!postgresUrl())('an opt-out written on one instance removes access on another', async () => {
    const { createServer } = await import('../../src/server.js');
    const { loadConfig } = await import('../../src/config.js');
    const second = await createServer(loadConfig({ BASE_URL: 'http://concord.test/fhir', HOST: '127.0.0.1', RATE_LIMIT_PER_MINUTE: '0' }), false, { ...w.server.db, close: () => Promise.resolve() });
    try {
      await put(w.b, member('m-x', 'org-b'));
      await put(w.b, sharingConsent('share-x', 'm-x', 'org-a'));
      const read = async () => (await second.app.inject({ method: 'GET', url: '/fhir/Patient/m-x', headers: { authorization: `Bearer ${w.a}` } })).statusCode;
      expect(await read()).toBe(200);
      expect(await read()).toBe(200); // now from the second instance's caches
      await put(w.b, optOut('optout-x', 'm-x', 'org-a'));
      // The change reaches the other instance by LISTEN/NOTIFY: at most the delivery delay later.
      const deadline = Date.now() + 5000;
      let seen = await read();
      while (seen === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        seen = await read();
      }
      expect(seen).toBe(404);
    } finally {
      await second.close();
    }
  });
});

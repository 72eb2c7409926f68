// An import that changes who may see a member drops this instance's cached access decisions, as a single
// write does: on the embedded store there is no change channel, so nothing else would (a cached "sees
// p1" answered true until a restart). On PostgreSQL the same holds (there the listener also hears it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDownloadConnector } from '../../src/net/fetch-to-file.js';
import { accessToken, bearer, registerClient } from '../auth/support.js';
import { openTestDatabase, storageBackends } from '../support/db.js';
import { FHIR_JSON, type TestServer } from '../support/server.js';
import { startSubscriptionServer } from '../subscriptions/support.js';
import { FileServer } from './file-server.js';
import { importParameters, kickoff, poll, statusPath } from './operation-support.js';

describe.each(storageBackends())('$import and the access cache (%s)', (backend) => {
  const files = new FileServer();
  let s: TestServer;
  let admin: string;
  let org: string;
  beforeAll(async () => {
    await files.start();
    s = await startSubscriptionServer(
      { CONCORD_AUTH: 'on', IMPORT_ALLOWED_HOSTS: files.host, IMPORT_POLL_MS: '50', IMPORT_WORKERS: '0' },
      { importConnector: nodeDownloadConnector },
      await openTestDatabase(backend),
    );
    admin = await accessToken(s, await registerClient(s, 'ac-admin'));
    org = await accessToken(s, await registerClient(s, 'ac-org', { organization: 'Organization/ac-o1' }));
  });
  afterAll(async () => {
    await s.close();
    await files.stop();
  });

  const as = (token: string, method: 'GET' | 'PUT', url: string, payload?: unknown) =>
    s.request({ method, url, headers: { ...bearer(token), ...(payload ? { 'content-type': FHIR_JSON } : {}) }, ...(payload ? { payload } : {}) });

  it('an import removing the managing organization hides the member from that organization at once', async () => {
    const managed = { resourceType: 'Patient', id: 'ac-p1', managingOrganization: { reference: 'Organization/ac-o1' } };
    expect((await as(admin, 'PUT', '/fhir/Patient/ac-p1', managed)).statusCode).toBe(201);
    // Read twice: the second answer comes from the cached decision.
    expect((await as(org, 'GET', '/fhir/Patient/ac-p1')).statusCode).toBe(200);
    expect((await as(org, 'GET', '/fhir/Patient/ac-p1')).statusCode).toBe(200);
    const url = files.serve(`/ac/${backend}/Patient.ndjson`, [{ resourceType: 'Patient', id: 'ac-p1', gender: 'male' }]);
    const { res } = await poll(s, statusPath(await kickoff(s, importParameters([{ type: 'Patient', url }]), { prefer: 'respond-async', ...bearer(admin) })), bearer(admin));
    expect(res.statusCode, res.body).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ output: [{ type: 'Patient', count: 1 }], error: [] });
    expect(Number((await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM member_access m JOIN resource r USING (rid) WHERE r.id = 'ac-p1'")).rows[0]!.n)).toBe(0);
    expect((await as(org, 'GET', '/fhir/Patient/ac-p1')).statusCode).toBe(404);
    expect((await as(admin, 'GET', '/fhir/Patient/ac-p1')).statusCode).toBe(200);
  });

  it('an import adding the relationship shows the member at once', async () => {
    expect((await as(admin, 'PUT', '/fhir/Patient/ac-p2', { resourceType: 'Patient', id: 'ac-p2' })).statusCode).toBe(201);
    expect((await as(org, 'GET', '/fhir/Patient/ac-p2')).statusCode).toBe(404);
    expect((await as(org, 'GET', '/fhir/Patient/ac-p2')).statusCode).toBe(404);
    const url = files.serve(`/ac/${backend}/Patient2.ndjson`, [{ resourceType: 'Patient', id: 'ac-p2', managingOrganization: { reference: 'Organization/ac-o1' } }]);
    const { res } = await poll(s, statusPath(await kickoff(s, importParameters([{ type: 'Patient', url }]), { prefer: 'respond-async', ...bearer(admin) })), bearer(admin));
    expect(res.statusCode, res.body).toBe(200);
    expect((await as(org, 'GET', '/fhir/Patient/ac-p2')).statusCode).toBe(200);
  });
});

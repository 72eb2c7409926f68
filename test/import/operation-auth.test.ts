// Only administrative clients (no organization, create and update on every type) may use $import, its
// status and error files; everyone else gets 403 and no job is created.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerClient, requestToken, startAuthServer, type TestClient } from '../auth/support.js';
import type { TestServer } from '../support/server.js';
import { importParameters, kickoff, statusPath } from './operation-support.js';

describe('$import is for administrative clients', () => {
  let s: TestServer;
  const tokens = new Map<string, string>();
  beforeAll(async () => {
    s = await startAuthServer({ IMPORT_ALLOWED_HOSTS: '127.0.0.1:9', IMPORT_JOBS: 'off' });
    const clients: [string, { scopes?: string; organization?: string }][] = [
      ['import-admin', { scopes: 'system/*.cruds' }],
      ['import-org', { scopes: 'system/*.cruds', organization: 'Organization/plan-1' }],
      ['import-reader', { scopes: 'system/*.rs' }],
      ['import-patient-writer', { scopes: 'system/Patient.cruds' }],
    ];
    for (const [id, options] of clients) {
      const client: TestClient = await registerClient(s, id, options);
      const res = await requestToken(s, client, options.scopes);
      expect(res.statusCode, res.body).toBe(200);
      tokens.set(id, (JSON.parse(res.body) as { access_token: string }).access_token);
    }
  });
  afterAll(async () => {
    await s.close();
  });
  const auth = (client: string): Record<string, string> => ({ authorization: `Bearer ${tokens.get(client)!}` });
  const jobs = async (): Promise<number> => Number((await s.db.query<{ n: string }>('SELECT count(*) AS n FROM import_job')).rows[0]!.n);
  const body = importParameters([{ type: 'Patient', url: 'http://127.0.0.1:9/Patient.ndjson' }]);

  for (const client of ['import-org', 'import-reader', 'import-patient-writer']) {
    it(`refuses ${client} with 403 and creates no job`, async () => {
      const res = await kickoff(s, body, { prefer: 'respond-async', ...auth(client) });
      expect(res.statusCode, res.body).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
      expect(await jobs()).toBe(0);
    });
  }

  it('refuses a request without a token with 401', async () => {
    expect((await kickoff(s, body)).statusCode).toBe(401);
  });

  it('accepts an administrative client; others cannot poll or cancel its job', async () => {
    const path = statusPath(await kickoff(s, body, { prefer: 'respond-async', ...auth('import-admin') }));
    expect(await jobs()).toBe(1);
    expect((await s.request({ method: 'GET', url: path, headers: auth('import-admin') })).statusCode).toBe(202);
    for (const method of ['GET', 'DELETE'] as const) {
      expect((await s.request({ method, url: path, headers: auth('import-org') })).statusCode).toBe(403);
    }
    expect((await s.request({ method: 'GET', url: `${path}/errors/0`, headers: auth('import-reader') })).statusCode).toBe(403);
    expect((await s.request({ method: 'DELETE', url: path, headers: auth('import-admin') })).statusCode).toBe(202);
    // The kick-off and each poll were audited as the import operation, with the client.
    const rows = (await s.db.query<{ client_id: string; subtype: string; outcome: string }>("SELECT client_id, subtype, outcome FROM audit_event WHERE content LIKE '%\"import\"%' ORDER BY seq")).rows;
    expect(rows.map((r) => [r.client_id, r.outcome])).toEqual(expect.arrayContaining([['import-admin', '0'], ['import-org', '4']]));
  });
});

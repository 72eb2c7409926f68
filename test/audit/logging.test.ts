// The audit trail keeps what the logs must not: with authentication and auditing on, the logs of searches,
// writes, token requests and a failed audit insert hold no query values, bodies or tokens, while the
// AuditEvents hold the query.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createServer } from '../../src/server.js';
import { openTestDatabase } from '../support/db.js';
import { testConfig, type TestServer } from '../support/server.js';
import { accessToken, bearer, registerClient, requestToken } from '../auth/support.js';
import { eventsWhere, queryOf } from './support.js';

const lines: string[] = [];
let server: TestServer;
beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const db = await openTestDatabase();
  const s = await createServer(testConfig({ CONCORD_AUTH: 'on', LOG_LEVEL: 'debug' }), createLogger('debug', sink), db);
  server = { ...s, db, request: (o) => s.app.inject(o), json: <T>(r: { body: string }) => JSON.parse(r.body) as T };
});
afterAll(async () => server.close());

it('logs no query values, bodies or tokens; the AuditEvent keeps the query', async () => {
  const secret = 'Qwertzuiopasdf';
  const client = await registerClient(server, 'log-client', { organization: 'Organization/log-org' });
  const tokenResponse = await requestToken(server, client);
  const token = await accessToken(server, client);
  const auth = bearer(token);
  await server.request({ method: 'GET', url: `/fhir/Patient?name=${secret}`, headers: auth });
  await server.request({ method: 'POST', url: '/fhir/Patient', headers: { ...auth, 'content-type': 'application/fhir+json' }, payload: { resourceType: 'Patient', name: [{ family: secret }] } });
  await server.request({ method: 'GET', url: `/fhir/Observation?code=${secret}`, headers: { authorization: `Bearer ${secret}` } });
  // A failed audit insert is logged by name only.
  await server.db.exec(`
    CREATE FUNCTION refuse_logged() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused %', NEW.content; END $$;
    CREATE TRIGGER refuse_logged BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION refuse_logged();`);
  const withheld = await server.request({ method: 'GET', url: `/fhir/Patient?family=${secret}`, headers: auth });
  await server.db.exec('DROP TRIGGER refuse_logged ON audit_event; DROP FUNCTION refuse_logged();');
  expect(withheld.statusCode).toBe(503);

  const text = lines.join('');
  expect(text).toContain('AuditEvent could not be stored');
  expect(text).not.toContain(secret);
  expect(text).not.toContain(token);
  expect(text).not.toContain((JSON.parse(tokenResponse.body) as { access_token: string }).access_token);
  const [search] = await eventsWhere(server, `subtype = 'search-type' AND client_id = 'log-client'`);
  expect(queryOf(search!)).toBe(`name=${secret}`);
});

// Logs hold no health data: no resource bodies, no search values, no credentials.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServer, type Server } from '../../src/server.js';
import { openTestDatabase } from '../support/db.js';

const lines: string[] = [];
let server: Server;
beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  server = await createServer(loadConfig({ LOG_LEVEL: 'debug', HOST: '127.0.0.1', CONCORD_AUTH: 'off' }), createLogger('debug', sink), await openTestDatabase());
});
afterAll(async () => {
  await server.close();
});

it('logs requests without bodies, query values or authorization headers', async () => {
  const secret = 'Zyxwvutsrqp';
  await server.app.inject({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', name: [{ family: secret }] }, headers: { authorization: `Bearer ${secret}` } });
  await server.app.inject({ method: 'GET', url: `/fhir/Patient?name=${secret}` });
  await server.app.inject({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', name: [{ family: secret }], bogus: secret } });
  const text = lines.join('');
  expect(text).toContain('/fhir/Patient');
  expect(text).toContain('"statusCode":201');
  expect(text).not.toContain(secret);
});

// An in-process Concord over a fresh test database, exercised with fastify's inject (real HTTP
// semantics, no socket).
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { createServer, type Server } from '../../src/server.js';
import { openTestDatabase, type Backend } from './db.js';

export interface TestServer extends Server {
  app: FastifyInstance;
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  json<T = Record<string, unknown>>(res: LightMyRequestResponse): T;
}

export async function startTestServer(backend?: Backend, env: Record<string, string> = {}): Promise<TestServer> {
  const db = await openTestDatabase(backend, { max: 40 });
  const config = loadConfig({ BASE_URL: 'http://concord.test/fhir', ...env });
  const server = await createServer(config, false, db);
  await server.app.ready();
  return {
    ...server,
    request: (options) => server.app.inject(options),
    json: <T>(res: LightMyRequestResponse) => JSON.parse(res.body) as T,
  };
}

export const FHIR_JSON = 'application/fhir+json';

// An in-process Concord over a fresh test database, exercised with fastify's inject (real HTTP
// semantics, no socket).
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { createServer, type Server } from '../../src/server.js';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase, type Backend } from './db.js';

export interface TestServer extends Server {
  app: FastifyInstance;
  /** The test database (e.g. to start a second instance on the same schema). */
  db: Database;
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  json<T = Record<string, unknown>>(res: LightMyRequestResponse): T;
}

/** The configuration test servers use: authentication off (allowed on loopback) and no rate limit unless env turns them on. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ BASE_URL: 'http://concord.test/fhir', HOST: '127.0.0.1', CONCORD_AUTH: 'off', RATE_LIMIT_PER_MINUTE: '0', ...env });
}

export async function startTestServer(backend?: Backend, env: Record<string, string> = {}, pool: { max?: number } = {}): Promise<TestServer> {
  const db = await openTestDatabase(backend, { max: pool.max ?? 40 });
  // Most tests exercise FHIR behaviour, not access control.
  const config = testConfig(env);
  // Tests never resolve names: a webhook host (e.g. in the official R4 Subscription examples) resolves to
  // nothing, so no DNS query leaves the machine; subscription tests inject their own table.
  const server = await createServer(config, false, db, { webhookResolver: () => Promise.resolve([]) });
  await server.app.ready();
  return {
    ...server,
    db,
    request: (options) => server.app.inject(options),
    json: <T>(res: LightMyRequestResponse) => JSON.parse(res.body) as T,
  };
}

export const FHIR_JSON = 'application/fhir+json';

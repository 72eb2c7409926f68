// Child process of bench/rest-core.ts: hosts Concord (on the chosen store) and the bare fastify app
// side by side on 127.0.0.1, seeds Patients, reports the ports over IPC and closes everything when
// told to (or when the parent goes away). autocannon runs in the parent, so the load generator never
// shares an event loop with the server it measures.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config.js';
import { createServer, type Server } from '../src/server.js';
import type { Database } from '../src/storage/database.js';
import { openPglite } from '../src/storage/pglite.js';
import { openPostgres } from '../src/storage/postgres.js';
import { captureOneTransaction, describeCapture, sqlFloorRoutes, type Capture } from './create-sql-replay.js';
import { benchPatient, benchPatientAsStored } from './fixtures.js';

export interface ServerOptions {
  store: 'postgres' | 'pglite';
  databaseUrl: string;
  /** PGlite: a temp data directory instead of memory. */
  pgliteDir: boolean;
  seed: number;
  /** Further Patients seeded for the delete measurement. */
  deleteSeed?: number;
  /** PostgreSQL: also serve POST /sql/Patient and /sql-version/Patient on the bare app, replaying one create's SQL (bench/create-sql-replay.ts). */
  sqlFloor?: boolean;
}

export type ChildMessage =
  | {
      type: 'ready';
      barePort: number;
      concordPort: number;
      ids: string[];
      deleteIds: string[];
      storeDescription: string;
      /** --sql-floor: the statements one create sends, as replayed by POST /sql/Patient. */
      sqlCapture?: string;
      /** PostgreSQL: the application_name of the pool's connections (to find their backend processes). */
      applicationName?: string;
    }
  | { type: 'cpu'; user: number; system: number }
  | { type: 'error'; message: string }
  | { type: 'closed'; patientCount: number };

export type ParentMessage = { type: 'close' } | { type: 'cpu' };

function send(message: ChildMessage): void {
  process.send?.(message);
}

function bareApp(): FastifyInstance {
  const app = Fastify({ logger: false });
  const doc = benchPatientAsStored();
  let n = 0;
  // A plain JSON route: the object is serialised per request by fastify, as any JSON API would.
  app.get('/bare/Patient/:id', () => doc);
  app.post('/bare/Patient', async (request, reply) => {
    const body = request.body as Record<string, unknown>;
    return reply.code(201).send({ ...body, id: `bare-${++n}`, meta: { versionId: '1', lastUpdated: new Date().toISOString() } });
  });
  return app;
}

interface Store {
  db: Database;
  description: string;
  applicationName?: string;
  cleanup(): Promise<void>;
}

async function openStore(options: ServerOptions): Promise<Store> {
  if (options.store === 'postgres') {
    const schema = `bench_${randomBytes(6).toString('hex')}`;
    const applicationName = `concord_${schema}`;
    const url = new URL(options.databaseUrl);
    url.searchParams.set('application_name', applicationName);
    const db = await openPostgres({ connectionString: url.toString(), schema, max: 20 });
    return {
      db,
      description: `PostgreSQL (schema ${schema}, pool max 20)`,
      applicationName,
      async cleanup() {
        await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
        await db.close();
      },
    };
  }
  if (options.pgliteDir) {
    const dir = await mkdtemp(join(tmpdir(), 'concord-bench-'));
    const db = await openPglite(dir);
    return {
      db,
      description: `PGlite (data directory in ${tmpdir()})`,
      async cleanup() {
        await db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const db = await openPglite();
  return { db, description: 'PGlite (in memory)', cleanup: () => db.close() };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as ServerOptions;
  let store: Store | undefined;
  let concord: Server | undefined;
  const bare = bareApp();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      let patientCount = -1;
      if (store) {
        patientCount = await store.db
          .query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)
          .then((r) => r.rows[0]?.n ?? -1)
          .catch(() => -1);
      }
      await bare.close().catch(() => undefined);
      // Concord's close() drains requests and closes the database; the store's cleanup then drops the
      // schema (PostgreSQL) or the temp directory (PGlite) through its own still-open handle.
      if (concord) await concord.app.close().catch(() => undefined);
      if (store) await store.cleanup().catch(() => undefined);
      send({ type: 'closed', patientCount });
    })());

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'cpu') send({ type: 'cpu', ...process.cpuUsage() });
    if (message.type === 'close') void close().finally(() => process.disconnect?.());
  });
  // The parent died or hung up: never leave a PGlite instance or a schema behind.
  process.on('disconnect', () => void close().finally(() => process.exit(0)));

  try {
    store = await openStore(options);
    concord = await createServer(loadConfig({ LOG_LEVEL: 'silent', HOST: '127.0.0.1', CONCORD_AUTH: 'off', RATE_LIMIT_PER_MINUTE: '0' }), false, store.db);
    await concord.app.listen({ host: '127.0.0.1', port: 0 });

    // Seeded 8 at a time: one at a time, each create waits for its own commit's WAL flush.
    const total = options.seed + (options.deleteSeed ?? 0);
    const seeded: string[] = new Array<string>(total);
    let next = 0;
    const app = concord.app;
    const seedOne = async (): Promise<void> => {
      for (let i = next++; i < total; i = next++) {
        const res = await app.inject({
          method: 'POST',
          url: '/fhir/Patient',
          headers: { 'content-type': 'application/fhir+json' },
          payload: JSON.stringify(benchPatient(i)),
        });
        if (res.statusCode !== 201) throw new Error(`seeding Patient ${i}: HTTP ${res.statusCode} ${res.body.slice(0, 300)}`);
        seeded[i] = (JSON.parse(res.body) as { id: string }).id;
      }
    };
    await Promise.all(Array.from({ length: 8 }, () => seedOne()));
    // After the seeding, so that the captured create finds every cache warm, as the measured ones do.
    let capture: Capture | undefined;
    if (options.sqlFloor && store.db.kind === 'postgres') {
      const db = store.db;
      capture = await captureOneTransaction(async () => {
        const res = await app.inject({
          method: 'POST',
          url: '/fhir/Patient',
          headers: { 'content-type': 'application/fhir+json' },
          payload: JSON.stringify(benchPatient(0)),
        });
        if (res.statusCode !== 201) throw new Error(`capturing a create: HTTP ${res.statusCode}`);
      });
      sqlFloorRoutes(bare, db, capture);
    }
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const ids = seeded.slice(0, options.seed);
    const deleteIds = seeded.slice(options.seed);
    const port = (app: FastifyInstance): number => {
      const address = app.server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      return address.port;
    };
    send({
      type: 'ready',
      barePort: port(bare),
      concordPort: port(concord.app),
      ids,
      deleteIds,
      storeDescription: store.description,
      ...(capture ? { sqlCapture: describeCapture(capture) } : {}),
      ...(store.applicationName ? { applicationName: store.applicationName } : {}),
    });
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    await close();
    process.disconnect?.();
  }
}

void main();

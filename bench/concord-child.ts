// Child process hosting one Concord instance on PostgreSQL (a given schema) on 127.0.0.1, for the
// search-scale and rules-cost suites. The parent owns the schema: the child drops it on close only when
// told to (search-scale restarts Concord on the same schema with the rules switched off for the bulk).
//
// Protocol (IPC): child -> {type:'ready', port} | {type:'error', message} | {type:'closed'};
//                 parent -> {type:'close', dropSchema} | {type:'cpu'} (child answers {type:'cpu', user, system})
//                         | {type:'statements'} (child answers {type:'statements', counts}: statements sent so far by
//                           SQL text, when started with countStatements)
//                         | {type:'profile-start'} | {type:'profile-stop', file} (a V8 CPU profile of the child
//                           between the two, written to file; the child answers {type:'profiled'}).
// The child also closes (without dropping the schema, unless dropSchemaOnExit) when the parent goes away.
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { loadConfig } from '../src/config.js';
import { createServer, type Server } from '../src/server.js';
import type { Database } from '../src/storage/database.js';
import { openPostgres } from '../src/storage/postgres.js';

export interface ConcordChildOptions {
  databaseUrl: string;
  schema: string;
  rules: 'on' | 'off';
  /** Authentication (default off: the suites measure FHIR work, bench/auth.ts measures this). */
  auth?: 'on' | 'off';
  /** The audit trail (default: on with authentication, off without; CONCORD_AUDIT=off needs auth off). */
  audit?: 'on' | 'off';
  poolMax: number;
  /** Named prepared statements per connection (PG_PREPARED_STATEMENTS; default the server's). */
  preparedStatements?: number;
  /** Drop the schema when the parent disappears without a close message. */
  dropSchemaOnExit: boolean;
  /** Further configuration (environment variable names of src/config.ts), applied last. */
  env?: Record<string, string>;
  /** Count the statements sent to PostgreSQL by SQL text (transaction control included). */
  countStatements?: boolean;
}

export type ConcordChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'error'; message: string }
  | { type: 'cpu'; user: number; system: number }
  | { type: 'statements'; counts: Record<string, number> }
  | { type: 'profiled' }
  | { type: 'closed' };

export type ConcordParentMessage = { type: 'close'; dropSchema: boolean } | { type: 'cpu' } | { type: 'statements' } | { type: 'profile-start' } | { type: 'profile-stop'; file: string };

/**
 * Counts every statement sent through the Database (pool and transactions) by its SQL text. A wrapper
 * around the store, not a change to it: the server under measurement runs its own code unchanged.
 */
function counting(db: Database, counts: Map<string, number>): Database {
  const count = (sql: string): void => {
    const key = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  // Delivery calls by kind (issue 11): '#'-keys are tallies, not statements. The acknowledgements a call
  // carries and the Subscriptions it claims are counted too (its 3rd parameter, its limit, its rows).
  const deliveryCall = (params: unknown[], result: Promise<{ rows: unknown[] }>): void => {
    const acks = (params[2] as unknown[]).length;
    const limit = params[6] as number;
    counts.set('# acknowledgements carried', (counts.get('# acknowledgements carried') ?? 0) + acks);
    void result.then(
      (res) => {
        const kind = limit <= 0 ? 'acknowledgements only (limit 0)' : res.rows.length === 0 ? (acks > 0 ? 'claimed nothing, with acks' : 'claimed nothing, no acks (empty)') : 'claimed work';
        counts.set(`# call: ${kind}`, (counts.get(`# call: ${kind}`) ?? 0) + 1);
        counts.set('# Subscriptions claimed', (counts.get('# Subscriptions claimed') ?? 0) + res.rows.length);
      },
      () => undefined,
    );
  };
  const wrap = <Q extends { query: Database['query'] }>(q: Q): Q =>
    new Proxy(q, {
      get(target, prop, receiver) {
        if (prop === 'query') {
          return (sql: string, ...rest: unknown[]) => {
            count(sql);
            const result = (target.query as (...a: unknown[]) => unknown).call(target, sql, ...rest);
            if (sql.startsWith('SELECT * FROM subscription_deliver_many')) deliveryCall(rest[0] as unknown[], result as Promise<{ rows: unknown[] }>);
            return result;
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query') return (sql: string, params?: unknown[], options?: Parameters<Database['query']>[2]) => wrap(target).query(sql, params, options);
      if (prop === 'transaction') {
        return <T>(fn: (tx: Parameters<Parameters<Database['transaction']>[0]>[0]) => Promise<T>, options?: Parameters<Database['transaction']>[1]) => {
          count('BEGIN ... COMMIT (transaction)');
          return target.transaction((tx) => fn(wrap(tx)), options);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function send(message: ConcordChildMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as ConcordChildOptions;
  if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`invalid schema ${options.schema}`);
  let db: Database | undefined;
  let server: Server | undefined;
  let closing: Promise<void> | undefined;
  const close = (dropSchema: boolean): Promise<void> =>
    (closing ??= (async () => {
      if (server) await server.app.close().catch(() => undefined);
      if (db && dropSchema) await db.query(`DROP SCHEMA IF EXISTS ${options.schema} CASCADE`).catch(() => undefined);
      if (db) await db.close().catch(() => undefined);
      send({ type: 'closed' });
    })());
  const counts = new Map<string, number>();
  let profiler: Session | undefined;
  process.on('message', (message: ConcordParentMessage) => {
    if (message.type === 'cpu') send({ type: 'cpu', ...process.cpuUsage() });
    if (message.type === 'statements') send({ type: 'statements', counts: Object.fromEntries(counts) });
    if (message.type === 'profile-start') {
      profiler = new Session();
      profiler.connect();
      void profiler
        .post('Profiler.enable')
        .then(() => profiler?.post('Profiler.start'))
        .then(() => send({ type: 'profiled' }));
    }
    if (message.type === 'profile-stop' && profiler) {
      const session = profiler;
      profiler = undefined;
      void session
        .post('Profiler.stop')
        .then(({ profile }) => writeFile(message.file, JSON.stringify(profile)))
        .finally(() => {
          session.disconnect();
          send({ type: 'profiled' });
        });
    }
    if (message.type === 'close') void close(message.dropSchema).finally(() => process.disconnect?.());
  });
  process.on('disconnect', () => void close(options.dropSchemaOnExit).finally(() => process.exit(0)));
  try {
    const url = new URL(options.databaseUrl);
    url.searchParams.set('application_name', `concord_${options.schema}`);
    db = await openPostgres({ connectionString: url.toString(), schema: options.schema, max: options.poolMax, ...(options.preparedStatements !== undefined ? { maxPreparedStatements: options.preparedStatements } : {}) });
    const served = options.countStatements ? counting(db, counts) : db;
    server = await createServer(loadConfig({ LOG_LEVEL: 'silent', CONCORD_RULES: options.rules, HOST: '127.0.0.1', CONCORD_AUTH: options.auth ?? 'off', CONCORD_AUDIT: options.audit ?? (options.auth === 'on' ? 'on' : 'off'), RATE_LIMIT_PER_MINUTE: '0', ...options.env }), false, served);
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const address = server.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    send({ type: 'ready', port: address.port });
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    await close(options.dropSchemaOnExit);
    process.disconnect?.();
  }
}

void main();

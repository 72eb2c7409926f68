// Parent side of bench/concord-child.ts: starts Concord in a child process (so load generators and
// measurement loops never share its event loop) and stops it again.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ConcordChildMessage, ConcordChildOptions, ConcordParentMessage } from './concord-child.js';
import { childCpu } from './child-cpu.js';
import type { Launch } from './npm-start-launch.js';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function databaseUrlFromEnv(): string {
  return process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

export const newSchemaName = (prefix: string): string => `${prefix}_${randomBytes(5).toString('hex')}`;

export interface ConcordProcess {
  port: number;
  /** http://127.0.0.1:port/fhir */
  base: string;
  schema: string;
  /** user + system CPU of the server process so far, µs. */
  cpu(): Promise<number>;
  /** Statements sent so far by SQL text (empty unless started with countStatements). */
  statements(): Promise<Record<string, number>>;
  /** Starts a V8 CPU profile of the child; stopProfile writes it to file. */
  startProfile(): Promise<void>;
  stopProfile(file: string): Promise<void>;
  close(dropSchema: boolean): Promise<void>;
}

/**
 * launch: node flags and process environment for the child, e.g. `npm start`'s (npmStartLaunch: malloc
 * arenas, V8's young generation), which a benchmark passes to measure the server as it is deployed. Without
 * it the child gets V8's defaults and this process's environment.
 */
export async function startConcord(options: Partial<ConcordChildOptions> & { schema: string; rules: 'on' | 'off'; launch?: Launch }): Promise<ConcordProcess> {
  const full: ConcordChildOptions = {
    databaseUrl: options.databaseUrl ?? databaseUrlFromEnv(),
    schema: options.schema,
    rules: options.rules,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
    poolMax: options.poolMax ?? 20,
    ...(options.preparedStatements !== undefined ? { preparedStatements: options.preparedStatements } : {}),
    dropSchemaOnExit: options.dropSchemaOnExit ?? true,
    ...(options.env ? { env: options.env } : {}),
    ...(options.countStatements ? { countStatements: true } : {}),
  };
  const child = fork(fileURLToPath(new URL('./concord-child.ts', import.meta.url)), [JSON.stringify(full)], {
    execArgv: [...(options.launch?.nodeArgs ?? []), '--import', import.meta.resolve('tsx')],
    env: { ...process.env, ...options.launch?.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000).unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Concord child not ready within 180 s')), 180_000);
    child.on('message', (message: ConcordChildMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.port);
      } else if (message.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`Concord child failed: ${message.message}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Concord child exited (code ${code}) before it was ready`));
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return {
    port,
    base: `http://127.0.0.1:${port}/fhir`,
    schema: full.schema,
    cpu: () => childCpu(child, 'Concord child'),
    statements: () => ask<Extract<ConcordChildMessage, { type: 'statements' }>>(child, { type: 'statements' }, 'statements').then((m) => m.counts),
    startProfile: () => ask(child, { type: 'profile-start' }, 'profiled').then(() => undefined),
    stopProfile: (file) => ask(child, { type: 'profile-stop', file }, 'profiled').then(() => undefined),
    async close(dropSchema) {
      if (child.connected) child.send({ type: 'close', dropSchema } satisfies ConcordParentMessage);
      await stop();
    },
  };
}

/** Sends `message` to a Concord child and resolves with its first answer of type `answer`. */
export function ask<M extends ConcordChildMessage>(child: ChildProcess, message: ConcordParentMessage, answer: M['type']): Promise<M> {
  return new Promise<M>((resolve, reject) => {
    const onMessage = (m: ConcordChildMessage): void => {
      if (m.type !== answer) return;
      child.off('message', onMessage);
      resolve(m as M);
    };
    child.on('message', onMessage);
    if (!child.connected) reject(new Error('Concord child is gone'));
    else child.send(message);
  });
}

/** Drops a schema through a short-lived connection (the parent's safety net). */
export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema ${schema}`);
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** ANALYZE of one schema's tables: fresh statistics, as autovacuum would have them in a store that has run a while. */
export async function analyzeSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema ${schema}`);
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const tables = await client.query<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema]);
    // A bare ANALYZE would walk every schema of the database; only this one is asked for.
    for (const t of tables.rows) await client.query(`ANALYZE ${schema}."${t.tablename}"`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function postgresVersion(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const res = await client.query<{ server_version: string }>('SHOW server_version');
    return res.rows[0]?.server_version;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Nearest-rank percentile of an ascending-sorted sample. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

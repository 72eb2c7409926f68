// Chooses the test database once per run: DATABASE_URL (CI uses the local PostgreSQL) -> a
// testcontainers PostgreSQL when a Docker engine answers -> none (test files fall back to PGlite).
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

let stopContainer: (() => Promise<unknown>) | undefined;

async function startContainer(): Promise<string | undefined> {
  try {
    // Imported lazily: without a Docker engine this rejects within milliseconds.
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16-alpine').start();
    stopContainer = () => container.stop();
    return container.getConnectionUri();
  } catch {
    return undefined;
  }
}

/** Extensions are per database, not per schema: install them once in public before files migrate in parallel. */
async function prepareDatabase(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public');
    await client.query('CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public');
  } finally {
    await client.end();
  }
}

export async function setup(project: TestProject): Promise<void> {
  const url = process.env.DATABASE_URL || (await startContainer()) || '';
  if (url) await prepareDatabase(url);
  project.provide('databaseUrl', url);
  process.stdout.write(`test database: ${url ? url.replace(/\/\/[^@]*@/, '//***@') : 'embedded PGlite (no DATABASE_URL, no Docker engine)'}\n`);
}

export async function teardown(): Promise<void> {
  await stopContainer?.();
}

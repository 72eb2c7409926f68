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

export async function setup(project: TestProject): Promise<void> {
  const url = process.env.DATABASE_URL || (await startContainer()) || '';
  project.provide('databaseUrl', url);
  process.stdout.write(`test database: ${url ? url.replace(/\/\/[^@]*@/, '//***@') : 'embedded PGlite (no DATABASE_URL, no Docker engine)'}\n`);
}

export async function teardown(): Promise<void> {
  await stopContainer?.();
}

// NDJSON fixtures for the import tests: a few bench members (bench/import-ndjson.ts) in a temporary
// directory, plus helpers to write hand-made files.
import type { Resource } from '@medplum/fhirtypes';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryResources, memberResources } from '../../bench/import-ndjson.js';
import type { TestServer } from '../support/server.js';

export interface FixtureDir {
  dir: string;
  /** Writes `<name>` with one line per item (strings are written as they are). */
  file(name: string, lines: readonly (Resource | Record<string, unknown> | string)[]): Promise<string>;
  /** One file per resource type of the resources, as a Bulk Data export: returns the paths. */
  export(resources: readonly Resource[], suffix?: string): Promise<string[]>;
  remove(): Promise<void>;
}

export async function fixtureDir(): Promise<FixtureDir> {
  const dir = await mkdtemp(join(tmpdir(), 'concord-import-'));
  const file = async (name: string, lines: readonly (Resource | Record<string, unknown> | string)[]): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
    return path;
  };
  return {
    dir,
    file,
    async export(resources, suffix = '') {
      const byType = new Map<string, Resource[]>();
      for (const r of resources) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
      return Promise.all([...byType].map(([type, list]) => file(`${type}${suffix}.ndjson`, list)));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The bench directory (organizations, practitioners, roles) and `members` members. */
export function benchResources(members: number, startAt = 0): Resource[] {
  const { resources, directory } = directoryResources();
  const out = [...resources];
  for (let m = startAt; m < startAt + members; m++) out.push(...memberResources(m, directory));
  return out;
}

/** The stored versions of these ids, without lastUpdated (it differs by when each was written), in a stable order. */
export async function storedVersions(server: TestServer, ids: readonly string[]) {
  const res = await server.db.query<{ resource_type: string; id: string; version_id: number; method: string; members: string[] | null; content: string }>(
    'SELECT resource_type, id, version_id, method, members, content FROM resource_version WHERE id = ANY($1::text[]) ORDER BY resource_type, id, version_id',
    [ids],
  );
  return res.rows.map((r) => {
    const body = JSON.parse(r.content) as { meta: Record<string, unknown> };
    delete body.meta.lastUpdated;
    return { ...r, content: body };
  });
}

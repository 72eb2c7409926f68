// NDJSON of N bench members (bench/load-members.ts shapes: a directory of plans, Health Homes and their
// care managers, then 11 resources per member), one file per resource type as a Bulk Data export
// writes them. Ids are deterministic (`dir-<n>`, `m<member>-<n>`), so the same N gives the same files.
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { directoryBundle, memberEntries, type Directory } from './load-members.js';

/** Resources of the entries with ids assigned and urn:uuid references made `Type/id`. */
export function withIds(entries: readonly BundleEntry[], idOf: (i: number) => string): Resource[] {
  const urls = new Map<string, string>();
  entries.forEach((e, i) => urls.set(e.fullUrl!, `${e.resource!.resourceType}/${idOf(i)}`));
  return entries.map((e, i) => {
    const text = JSON.stringify(e.resource).replace(/urn:uuid:[0-9a-f-]{36}/g, (u) => urls.get(u) ?? u);
    return { ...(JSON.parse(text) as Resource), id: idOf(i) };
  });
}

export function directoryResources(): { resources: Resource[]; directory: Directory } {
  const bundle: Bundle = directoryBundle();
  const resources = withIds(bundle.entry ?? [], (i) => `dir-${i}`);
  const directory: Directory = { plans: [], healthHomes: [], lhcsa: '', planRoles: [], hhRoles: [] };
  let current: string[] | undefined;
  for (const r of resources as (Resource & { type?: { coding?: { code?: string }[] }[] })[]) {
    if (r.resourceType === 'Organization') {
      const role = r.type?.[0]?.coding?.[0]?.code;
      current = [];
      if (role === 'mltcp-plan') {
        directory.plans.push(r.id!);
        directory.planRoles.push(current);
      } else if (role === 'health-home') {
        directory.healthHomes.push(r.id!);
        directory.hhRoles.push(current);
      } else directory.lhcsa = r.id!;
    } else if (r.resourceType === 'PractitionerRole') current?.push(r.id!);
  }
  return { resources, directory };
}

/** The 11 resources of member `index`. */
export function memberResources(index: number, directory: Directory): Resource[] {
  return withIds(memberEntries(index, directory).entries, (i) => `m${index}-${i}`);
}

/** Writes `<dir>/<Type>.ndjson` for the directory and members [startAt, startAt + members); returns the paths. */
export async function writeMemberNdjson(dir: string, members: number, startAt = 0): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const streams = new Map<string, ReturnType<typeof createWriteStream>>();
  const write = async (r: Resource): Promise<void> => {
    let s = streams.get(r.resourceType);
    if (!s) streams.set(r.resourceType, (s = createWriteStream(join(dir, `${r.resourceType}.ndjson`))));
    if (!s.write(`${JSON.stringify(r)}\n`)) await once(s, 'drain');
  };
  const { resources, directory } = directoryResources();
  for (const r of resources) await write(r);
  for (let m = startAt; m < startAt + members; m++) for (const r of memberResources(m, directory)) await write(r);
  for (const s of streams.values()) {
    s.end();
    await once(s, 'close');
  }
  return [...streams.keys()].map((t) => join(dir, `${t}.ndjson`));
}

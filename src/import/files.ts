// Which files an import reads, in which order: one resource type per file (as Bulk Data exports are),
// files of referenced types first so that the coordination rules find what a member's resources point
// at (a lead's PractitionerRole, a plan's Organization, the member's enrolments) already stored.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { isResourceType } from '../fhir/definitions.js';
import type { ImportFile } from './store.js';
import { readLines } from './ndjson.js';

/** Load order by resource type; types not listed come after these, by name. */
export const TYPE_ORDER: readonly string[] = [
  'Organization',
  'Location',
  'Practitioner',
  'PractitionerRole',
  'Patient',
  'RelatedPerson',
  'EpisodeOfCare',
  'Coverage',
  'Consent',
  'CarePlan',
  'CareTeam',
  'ServiceRequest',
];

export interface SourceFile extends ImportFile {
  path: string;
}

export class ImportFileError extends Error {}

/** Content hash (the journal's file key), size and resource type of one NDJSON file. */
export async function inspectFile(path: string): Promise<SourceFile> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new ImportFileError(`${basename(path)}: not a readable file`);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) hash.update(chunk);
  return { path, fileKey: hash.digest('hex'), name: basename(path), size: info.size, resourceType: await resourceTypeOf(path) };
}

/** The type of the first line that names one, else the file name's leading type (`Patient.ndjson`). */
async function resourceTypeOf(path: string): Promise<string> {
  let checked = 0;
  for await (const { bytes } of readLines(path)) {
    const m = /"resourceType"\s*:\s*"([A-Za-z]+)"/.exec(bytes.toString('utf8'));
    if (m && isResourceType(m[1]!)) return m[1]!;
    if (++checked >= 10) break;
  }
  const fromName = /^([A-Z][A-Za-z]+)/.exec(basename(path))?.[1];
  if (fromName && isResourceType(fromName)) return fromName;
  throw new ImportFileError(`${basename(path)}: cannot tell which resource type the file holds`);
}

export function orderFiles<T extends { resourceType: string; name: string }>(files: readonly T[]): T[] {
  const rank = (t: string): number => {
    const i = TYPE_ORDER.indexOf(t);
    return i === -1 ? TYPE_ORDER.length : i;
  };
  return [...files].sort((a, b) => rank(a.resourceType) - rank(b.resourceType) || a.resourceType.localeCompare(b.resourceType) || a.name.localeCompare(b.name));
}

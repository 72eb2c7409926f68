// The inputs the validation benchmarks run over, as JSON bytes: the bench import's members
// (bench/import-ndjson.ts), 2,000 bench Patients, and the official R4 examples (top-level resources
// under 64 KB).
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { benchPatient } from './fixtures.js';
import { directoryResources, memberResources } from './import-ndjson.js';

export type CorpusName = 'import' | 'patient' | 'examples';

export function validationCorpora(members: number): Record<CorpusName, Buffer[]> {
  const { resources, directory } = directoryResources();
  const imp: Resource[] = [...resources];
  for (let m = 0; m < members; m++) imp.push(...memberResources(m, directory));
  const dir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
  const examples = readdirSync(dir)
    .filter((x) => x.endsWith('.json') && x !== 'package.json')
    .sort()
    .map((x) => readFileSync(join(dir, x)))
    .filter((b) => b.length < 64 * 1024);
  const patients = Array.from({ length: 2000 }, (_, i) => Buffer.from(JSON.stringify(benchPatient(i))));
  return { import: imp.map((r) => Buffer.from(JSON.stringify(r))), patient: patients, examples };
}

// CPU of the database-free parts of one Patient create, called in a loop in this process: the body parse,
// the write validation, index extraction, the members column (by FHIRPath, and from the index rows), the
// create's AuditEvent record with the JSON its insert sends, and a server-assigned id. --root DIR measures another checkout's
// modules (e.g. the base commit), so two trees can be compared back to back on the same machine.
//
//   npx tsx bench/create-components.ts [--root DIR] [--n 4000]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { flags } from './args.js';
import { benchPatient } from './fixtures.js';

const f = flags(process.argv.slice(2));
const root = resolve(f.value('root') ?? new URL('..', import.meta.url).pathname);
const n = f.num('n', 4000, 100, true);
const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(resolve(root, path)).href)) as T;

type Fn = (...a: never[]) => unknown;
const { parseJsonBody } = await load<{ parseJsonBody: Fn }>('src/http/json-body.ts');
const { validateForWrite } = await load<{ validateForWrite: Fn }>('src/fhir/validate-write.ts');
const { extractIndexValues } = await load<{ extractIndexValues: Fn }>('src/fhir/search/extract.ts');
const { buildAuditRecord } = await load<{ buildAuditRecord: Fn }>('src/audit/balp.ts');
const { newId } = await load<{ newId: Fn }>('src/fhir/ids.ts');
const { membersColumn, membersFromIndex } = await load<{ membersColumn: Fn; membersFromIndex: Fn }>('src/access/compartment.ts');

const patient = benchPatient(3);
const stored = { ...patient, id: 'abc', meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00.000Z' } };
const raw = Buffer.from(JSON.stringify(patient));
const time = (label: string, fn: () => unknown): void => {
  for (let i = 0; i < n / 4; i++) fn();
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const u = process.cpuUsage(t);
  process.stdout.write(`${label.padEnd(22)} ${((u.user + u.system) / n).toFixed(1)} µs\n`);
};
process.stdout.write(`root ${root}\n`);
time('parseJsonBody', () => (parseJsonBody as (b: Buffer, d: number) => unknown)(raw, 64));
time('validateForWrite', () => (validateForWrite as (r: unknown, t: string) => unknown)(patient, 'Patient'));
time('extractIndexValues', () => (extractIndexValues as (r: unknown) => unknown)(stored));
time('membersColumn', () => (membersColumn as (r: unknown) => unknown)(stored));
const rows = (extractIndexValues as (r: unknown) => unknown)(stored);
time('membersFromIndex', () => (membersFromIndex as (r: unknown, x: unknown) => unknown)(stored, rows));
// The AuditEvent of a create as the write path builds it (auth off: anonymous agent), and the text sent.
const createFacts = () => ({
  recorded: new Date(),
  interaction: 'create',
  status: 201,
  requestor: { address: '127.0.0.1' },
  resourceType: 'Patient',
  resources: [{ reference: 'Patient/abc', versionId: 1 }],
  patients: ['Patient/abc'],
  serverAddress: 'http://127.0.0.1:8080/fhir',
});
time('buildAuditRecord+JSON', () => JSON.stringify((buildAuditRecord as (f: unknown) => { resource: unknown })(createFacts()).resource));
time('newId', () => (newId as () => string)());

// $coordination-form on a Patient: reads the member's coordination record exactly as the viewer may read
// it (the Patient by id, the record through the search index with the same access predicate, the
// directory by id) and assembles the form. Which parameters the operation takes is decided here too.
import type { Patient, Resource } from '@medplum/fhirtypes';
import { accessFilter, type Viewer } from '../../access/viewer.js';
import { FormAssembler, directoryReferences, type CoordinationForm, type FormLimit } from '../../coordination/form.js';
import { addToRecord, emptyRecord, type MemberRecord } from '../../coordination/reader.js';
import type { Range } from '../../coordination/period.js';
import { parseRef } from '../../coordination/refs.js';
import { parseFhirDateTime } from '../datetime.js';
import { badRequest, FhirError } from '../outcome.js';
import { CONCORD_BASE } from '../profiles/urls.js';
import type { ReadSnapshot, Repository } from '../repository.js';
import type { ResourceService } from '../resource-service.js';
import { parseSearchRequest } from '../search/index.js';

export const COORDINATION_FORM_OPERATION = 'coordination-form';
/** The canonical the CapabilityStatement names (Concord does not serve OperationDefinitions). */
export const COORDINATION_FORM_DEFINITION = `${CONCORD_BASE}/OperationDefinition/${COORDINATION_FORM_OPERATION}`;

/**
 * The member's record, by the search parameter that names the member (as members.ts reads it), narrowed
 * to the statuses the form can show (exactly status.ts's "active" sets, so the form's own filter decides
 * nothing differently): a member's completed and revoked history is not loaded. CareTeams are not
 * narrowed: one without a status counts as active, and a status search cannot match a missing one.
 */
const RECORD_SEARCHES = [
  ['EpisodeOfCare', 'patient', 'active'],
  ['CareTeam', 'subject', undefined],
  ['CarePlan', 'subject', 'active,on-hold'],
  ['ServiceRequest', 'subject', 'active,on-hold'],
  ['Consent', 'patient', 'active'],
] as const;
const DIRECTORY_TYPES = ['Organization', 'Practitioner', 'PractitionerRole'] as const;

/** The scopes the operation needs beyond `Patient.r`: it searches the record and reads the directory. */
export const COORDINATION_FORM_READS: readonly { type: string; permission: 'r' | 's'; why: string }[] = [
  ...RECORD_SEARCHES.map(([type]) => ({ type, permission: 's' as const, why: `$${COORDINATION_FORM_OPERATION} searches the member's ${type} resources` })),
  ...DIRECTORY_TYPES.map((type) => ({ type, permission: 'r' as const, why: `$${COORDINATION_FORM_OPERATION} names the ${type} resources the record refers to` })),
];

export interface FormParameters {
  /** A day (YYYY-MM-DD): the record in force on that day; absent: in force now. */
  readonly date?: string;
}

/** Parameter names other than these are refused (400), so a misspelt `date` is never silently ignored. */
const KNOWN = new Set(['date', '_format']);

/** The operation's parameters from the query string and a POST's body (Parameters, or a form); 400 when malformed. */
export function formParameters(query: URLSearchParams, body: unknown): FormParameters {
  const values = new Map<string, string[]>();
  const add = (name: string, value: string) => values.set(name, [...(values.get(name) ?? []), value]);
  for (const [name, value] of query) add(name, value);
  if (body instanceof URLSearchParams) for (const [name, value] of body) add(name, value);
  else if (body !== undefined && body !== null) {
    const params = body as { resourceType?: unknown; parameter?: unknown };
    if (params.resourceType !== 'Parameters') throw badRequest(`$${COORDINATION_FORM_OPERATION} takes a Parameters resource as its body`);
    if (params.parameter !== undefined && !Array.isArray(params.parameter)) throw badRequest('Parameters.parameter must be an array', ['Parameters.parameter']);
    for (const p of (params.parameter ?? []) as unknown[]) {
      // An entry may be anything JSON holds (null, a number): refused, never dereferenced.
      const entry = (p !== null && typeof p === 'object' ? p : {}) as Record<string, unknown>;
      const value = entry.valueDate ?? entry.valueString;
      if (typeof entry.name !== 'string' || typeof value !== 'string') throw badRequest(`Each parameter of $${COORDINATION_FORM_OPERATION} needs a name and a valueDate`, ['Parameters.parameter']);
      add(entry.name, value);
    }
  }
  for (const name of values.keys()) {
    if (!KNOWN.has(name)) throw badRequest(`Unknown parameter '${name}' for $${COORDINATION_FORM_OPERATION} (it takes date, a day YYYY-MM-DD)`);
  }
  const dates = values.get('date') ?? [];
  if (dates.length > 1) throw badRequest('date may be given once');
  const date = dates[0];
  if (date === undefined) return {};
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !parseFhirDateTime(date)) throw badRequest(`date must be a day (YYYY-MM-DD), got '${date}'`);
  return { date };
}

/** The range the form shows: the instant now, or the whole day asked for (UTC, as period.ts reads days). */
function rangeOf(parameters: FormParameters, now: Date): Range {
  if (parameters.date === undefined) return { start: now.getTime(), end: now.getTime() + 1 };
  const day = parseFhirDateTime(parameters.date)!;
  return { start: day.low, end: day.high };
}

export interface FormOptions {
  readonly viewer?: Viewer;
  readonly baseUrl: string;
  readonly now: Date;
}

/** Directory entries read at once within the snapshot (its one connection runs them in turn anyway). */
const DIRECTORY_READS_AT_ONCE = 32;

export class CoordinationFormService {
  constructor(
    private readonly repo: Repository,
    private readonly resources: ResourceService,
    /** Records of one type per search page (the search's maximum _count). */
    private readonly pageSize: number,
    /**
     * The most resources one form reads of each record type and of the directory (FORM_MAX_RECORDS): a
     * member with more is shown in part, and the form says what it left out (FormLimit), so one request
     * never holds an unbounded record in memory.
     */
    private readonly maxRecords: number,
  ) {}

  /**
   * The member's form as the viewer may see it; 404 (or 410) exactly as the Patient's read. Everything is
   * read from one snapshot, so a write committing meanwhile (a lead handed over, a team and a plan
   * changed in one transaction) shows in every section or in none.
   */
  form(patientId: string, parameters: FormParameters, options: FormOptions): Promise<CoordinationForm> {
    return this.repo.snapshot(async (snapshot) => {
      const reads = { snapshot, ...(options.viewer ? { viewer: options.viewer } : {}) };
      const patient = JSON.parse((await this.resources.read('Patient', patientId, reads)).content!) as Patient;
      const limits: FormLimit[] = [];
      const record = await this.record(snapshot, patientId, options, limits);
      const directory = new Map<string, Resource>();
      // Each entry is read once (found or not) or left out once it is past the limit.
      const tried = new Set<string>();
      const notRead = new Set<string>();
      // Two rounds: a PractitionerRole's practitioner and organization are known once the role is read.
      for (let round = 0; round < 2; round++) {
        const wanted = directoryReferences(record, directory).filter((key) => !tried.has(key));
        const room = Math.max(0, this.maxRecords - (tried.size - notRead.size));
        const toRead = wanted.slice(0, room);
        for (const key of wanted) tried.add(key);
        for (const key of wanted.slice(room)) notRead.add(key);
        for (let i = 0; i < toRead.length; i += DIRECTORY_READS_AT_ONCE) {
          const batch = toRead.slice(i, i + DIRECTORY_READS_AT_ONCE);
          const read = await Promise.all(batch.map((key) => this.directoryEntry(key, reads)));
          read.forEach((r, k) => r && directory.set(batch[k]!, r));
        }
      }
      if (notRead.size > 0) limits.push({ limit: this.maxRecords, notRead: notRead.size });
      return new FormAssembler(directory, rangeOf(parameters, options.now)).assemble(patient, record, limits);
    });
  }

  /**
   * The member's current records the viewer may see (the search's own access predicate filters them), at
   * most maxRecords of each type; a type with more is noted in limits.
   */
  private async record(snapshot: ReadSnapshot, patientId: string, options: FormOptions, limits: FormLimit[]): Promise<MemberRecord> {
    const record = emptyRecord();
    const access = accessFilter(options.viewer, options.now);
    // One more than the limit, so a first page tells whether there are more without another statement.
    const count = Math.min(this.pageSize, this.maxRecords + 1);
    for (const [type, code, status] of RECORD_SEARCHES) {
      const query = new URLSearchParams({ [code]: `Patient/${patientId}`, ...(status ? { status } : {}), _count: String(count) });
      const { request } = parseSearchRequest(type, query, {
        strict: true,
        maxCount: count,
        localBases: [options.baseUrl],
      });
      if (access) request.access = access;
      let read = 0;
      let more = false;
      for (;;) {
        const page = await snapshot.search(request);
        for (const m of page.matches) {
          if (read === this.maxRecords) {
            more = true;
            break;
          }
          addToRecord(record, JSON.parse(m.content) as Resource);
          read++;
        }
        if (more || !page.next) break;
        request.cursor = page.next;
      }
      if (more) limits.push({ resourceType: type, limit: this.maxRecords });
    }
    return record;
  }

  /** A directory resource by `Type/id`, read as the viewer would; absent when it cannot be read. */
  private async directoryEntry(key: string, reads: { snapshot: ReadSnapshot; viewer?: Viewer }): Promise<Resource | undefined> {
    const ref = parseRef(key)!;
    try {
      return JSON.parse((await this.resources.read(ref.type, ref.id, reads)).content!) as Resource;
    } catch (err) {
      if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return undefined;
      throw err;
    }
  }
}

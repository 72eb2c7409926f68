// POST [base] with a transaction or batch Bundle (R4 http.html#transaction).
// A transaction is one database transaction: entries run in the spec's order (DELETE, POST, PUT/PATCH,
// GET), urn:uuid and conditional references are resolved first, the coordination checks run once over
// all writes before commit, and any failing entry fails the whole Bundle. A batch runs each entry in its
// own transaction and reports each outcome: a failing entry, whatever the error, gets its own status
// and OperationOutcome while the entries before and after it keep their committed results (R4
// http.html#brules), so the batch itself answers 200.
import { STATUS_CODES } from 'node:http';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { newId, isValidId } from './ids.js';
import { FhirError, badRequest, issue, outcome, preconditionFailed } from './outcome.js';
import type { StoredVersion } from './repository.js';
import type { BeforeCommit, ResourceService, WriteActor, WriteSession } from './resource-service.js';
import { RuleViolationError } from './write-pipeline.js';
import { fromStoreUnavailable, StoreUnavailableError } from './store-unavailable.js';
import { replaceReferences } from './references.js';
import { assertNoNul, assertQueryHasNoNul } from './hostile-input.js';
import { assertSearchLimits, DEFAULT_SEARCH_LIMITS, type SearchLimits } from './search/limits.js';
import { stringifyLossless } from './number-text.js';
import type { Viewer } from '../access/viewer.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const ORDER: Record<Method, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

export interface BundleOptions {
  maxEntries: number;
  /** Representation of entry resources in the response (Prefer: return=...). */
  returnPreference: 'minimal' | 'representation' | 'OperationOutcome';
  baseUrl: string;
  /** When the request arrived (409 vs 422 for rule rejections). */
  receivedAt?: Date;
  /** Who writes (recorded with Subscriptions). */
  actor?: WriteActor;
  /** Told about a batch entry that failed with an unexpected (non-FHIR) error, answered 500 in its entry. */
  onEntryFault?: (err: unknown, index: number) => void;
  /** Access control: throws (a 403 FhirError) when the client may not perform an entry's interaction. */
  authorize?: (entry: EntryAccess) => void;
  /** Runs before each commit: once for a transaction, once per writing batch entry (see BeforeCommit). */
  beforeCommit?: BeforeCommit;
  /** The organization whose client sent the Bundle (ResourceService InSession.viewer); undefined = all. */
  viewer?: Viewer;
}

/** What an entry asks to do, for access control. */
export interface EntryAccess {
  index: number;
  method: Method;
  type: string;
  id?: string;
  versionId?: string;
  /** Search criteria (a search, or a conditional update/delete) or If-None-Exist (conditional create). */
  conditional: boolean;
  query?: URLSearchParams;
  ifNoneExist?: string;
  /** `Type?criteria` references in the entry's resource (resolved by searching Type in a transaction). */
  conditionalReferences?: string[];
}

const CONDITIONAL_REFERENCE = /^[A-Z][A-Za-z]+\?/;

function conditionalReferencesOf(resource: Resource | undefined): string[] {
  const refs = new Set<string>();
  if (resource) {
    replaceReferences(resource, (ref) => {
      if (CONDITIONAL_REFERENCE.test(ref)) refs.add(ref);
      return undefined;
    });
  }
  return [...refs];
}

function accessOf(e: ParsedEntry): EntryAccess {
  const conditionalReferences = conditionalReferencesOf(e.resource);
  return {
    index: e.index,
    method: e.method,
    type: e.type,
    ...(e.id === undefined ? {} : { id: e.id }),
    ...(e.versionId === undefined ? {} : { versionId: e.versionId }),
    conditional: e.query !== undefined || e.ifNoneExist !== undefined,
    ...(e.query ? { query: e.query } : {}),
    ...(e.ifNoneExist === undefined ? {} : { ifNoneExist: e.ifNoneExist }),
    ...(conditionalReferences.length ? { conditionalReferences } : {}),
  };
}

/** Answers a GET entry (read, vread or search) as a resource or searchset Bundle, as JSON text. */
export type GetHandler = (
  path: string,
  query: URLSearchParams,
  session: WriteSession | undefined,
  baseUrl: string,
  viewer?: Viewer,
) => Promise<{ status: number; body: string; version?: StoredVersion }>;

interface ParsedEntry {
  index: number;
  method: Method;
  type: string;
  id?: string;
  versionId?: string;
  query?: URLSearchParams;
  path: string;
  fullUrl?: string;
  resource?: Resource;
  ifNoneExist?: string;
  ifMatch?: number;
}

interface EntryResult {
  status: number;
  version?: StoredVersion;
  body?: string;
  outcome?: OperationOutcome;
}

export class BundleService {
  constructor(
    private readonly service: ResourceService,
    private readonly get: GetHandler,
    private readonly searchLimits: SearchLimits = DEFAULT_SEARCH_LIMITS,
  ) {}

  async process(body: unknown, options: BundleOptions): Promise<string> {
    const bundle = body as Bundle | undefined;
    if (bundle?.resourceType !== 'Bundle') throw badRequest('POST to the base URL takes a Bundle of type transaction or batch');
    if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
      throw badRequest(`Bundle.type must be transaction or batch, got '${String(bundle.type)}'`, ['Bundle.type']);
    }
    const entries = bundle.entry ?? [];
    if (!Array.isArray(entries)) throw badRequest('Bundle.entry must be an array', ['Bundle.entry']);
    if (entries.length > options.maxEntries) {
      throw badRequest(`The Bundle has ${entries.length} entries; at most ${options.maxEntries} are accepted per request`, ['Bundle.entry']);
    }
    return bundle.type === 'transaction' ? this.transaction(entries, options) : this.batch(entries, options);
  }

  // ---- transaction ---------------------------------------------------------------------------------

  private async transaction(entries: BundleEntry[], options: BundleOptions): Promise<string> {
    const parsed = entries.map((e, i) => parseEntry(e, i, options.baseUrl));
    // Every entry is checked before anything runs: one refused entry refuses the whole transaction.
    if (options.authorize) for (const e of parsed) options.authorize(accessOf(e));
    // The repository retries the whole transaction after a serialization failure or a unique-key race,
    // and an attempt rewrites its entries (ids, matched conditional creates, resolved references): every
    // attempt starts again from the request's entries, so a retry matches and resolves anew.
    let attempt = parsed;
    const run = async (session: WriteSession): Promise<EntryResult[]> => {
      const entries = (attempt = parsed.map(freshEntry));
      const idMap = await this.assignIdentities(entries, session, options.viewer);
      for (const entry of entries) {
        if (entry.resource) entry.resource = await this.resolveReferences(entry, idMap, session, options.viewer);
      }
      assertDistinctTargets(entries);
      const out = new Map<number, EntryResult>();
      for (const entry of [...entries].sort((a, b) => ORDER[a.method] - ORDER[b.method] || a.index - b.index)) {
        try {
          out.set(entry.index, await this.execute(entry, session, options.baseUrl, undefined, options.viewer));
        } catch (err) {
          throw entryError(err, entry);
        }
      }
      return entries.map((e) => out.get(e.index)!);
    };
    try {
      return responseBundle('transaction-response', await this.service.inTransaction(run, options.receivedAt, false, options.actor, options.beforeCommit), options);
    } catch (err) {
      // Rule issues are found once over the whole transaction; name the entry that wrote each one.
      throw err instanceof RuleViolationError ? ruleErrorByEntry(err, attempt) : err;
    }
  }

  /** POST entries get their ids now (or the match of ifNoneExist); fullUrls map to Type/id. */
  private async assignIdentities(entries: ParsedEntry[], session: WriteSession, viewer: Viewer | undefined): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    for (const entry of entries) {
      let target: string | undefined;
      if (entry.method === 'POST') {
        if (entry.ifNoneExist !== undefined) {
          const matches = await this.match(session, entry.type, new URLSearchParams(entry.ifNoneExist), entry, viewer);
          if (matches.length > 1) throw entryError(preconditionFailed(`ifNoneExist matched ${matches.length} ${entry.type} resources`), entry);
          if (matches[0] !== undefined) {
            entry.id = matches[0];
            entry.ifNoneExist = undefined;
            entry.method = 'GET'; // nothing to write: the response is the existing resource (200)
            entry.path = `${entry.type}/${entry.id}`;
          }
        }
        entry.id ??= newId();
        target = `${entry.type}/${entry.id}`;
      } else if (entry.method === 'PUT' && entry.query) {
        const matches = await this.match(session, entry.type, entry.query, entry, viewer);
        if (matches.length > 1) throw entryError(preconditionFailed(`The criteria matched ${matches.length} ${entry.type} resources`), entry);
        const bodyId = entry.resource?.id;
        if (matches[0] === undefined && bodyId !== undefined) {
          // No match, and the body names a resource that exists: R4 answers 409, as the single-request
          // path does; one the client may not see is left to the update, which answers 404 for it.
          const current = await session.tx.lockCurrent(entry.type, bodyId);
          const access = this.service.accessFor(viewer);
          const hidden = current?.members?.length && access ? !(await session.tx.canSee(access, current.members)) : false;
          if (current && !current.deleted && !hidden) throw entryError(new FhirError(409, issue('conflict', `${entry.type}/${bodyId} exists but does not match the criteria`)), entry);
        }
        entry.id = matches[0] ?? bodyId ?? newId();
        target = `${entry.type}/${entry.id}`;
      } else if (entry.method === 'PUT' && entry.id) {
        target = `${entry.type}/${entry.id}`;
      }
      if (entry.fullUrl && target) map.set(entry.fullUrl, target);
    }
    return map;
  }

  private async match(session: WriteSession, type: string, query: URLSearchParams, entry: ParsedEntry, viewer: Viewer | undefined): Promise<string[]> {
    try {
      // Before any SQL, like the conditional interactions outside a Bundle.
      assertQueryHasNoNul(query, 'conditional criteria');
      assertSearchLimits(query, this.searchLimits);
    } catch (err) {
      throw entryError(err, entry);
    }
    query.sort();
    await session.tx.lockKey(`conditional:${type}?${query.toString()}`);
    try {
      return await session.tx.findMatches(type, query, this.service.accessFor(viewer));
    } catch (err) {
      throw entryError(err, entry);
    }
  }

  /** Rewrites urn:uuid fullUrls and conditional references (Type?criteria) to Type/id everywhere. */
  private async resolveReferences(entry: ParsedEntry, idMap: Map<string, string>, session: WriteSession, viewer: Viewer | undefined): Promise<Resource> {
    const conditional = new Map<string, string>();
    const pending: string[] = [];
    replaceReferences(entry.resource!, (ref) => {
      if (CONDITIONAL_REFERENCE.test(ref)) pending.push(ref);
      return undefined;
    });
    for (const ref of pending) {
      if (conditional.has(ref)) continue;
      const [type, query] = [ref.slice(0, ref.indexOf('?')), ref.slice(ref.indexOf('?') + 1)];
      const matches = await this.match(session, type, new URLSearchParams(query), entry, viewer);
      if (matches.length !== 1) {
        throw entryError(preconditionFailed(`Conditional reference '${ref}' matched ${matches.length} resources; it must match exactly one`), entry);
      }
      conditional.set(ref, `${type}/${matches[0]}`);
    }
    return replaceReferences(entry.resource!, (ref) => idMap.get(ref) ?? conditional.get(ref)) as Resource;
  }

  private async execute(entry: ParsedEntry, session: WriteSession | undefined, baseUrl: string, receivedAt?: Date, viewer?: Viewer, beforeCommit?: BeforeCommit, actor?: WriteActor): Promise<EntryResult> {
    // A batch entry is its own transaction, but its request arrived with the Bundle.
    const s = { baseUrl, ...(session ? { session } : { receivedAt: receivedAt ?? new Date(), ...(beforeCommit ? { beforeCommit } : {}), ...(actor ? { actor } : {}) }), ...(viewer ? { viewer } : {}) };
    const ifMatch = entry.ifMatch === undefined ? {} : { ifMatch: entry.ifMatch };
    switch (entry.method) {
      case 'POST': {
        const r = await this.service.create(entry.type, entry.resource, {
          ...s,
          ...(entry.ifNoneExist === undefined ? {} : { ifNoneExist: entry.ifNoneExist }),
          ...(entry.id ? { id: entry.id } : {}),
        });
        return { status: r.status, version: r.version };
      }
      case 'PUT': {
        const id = entry.id!;
        const body = entry.query && entry.resource && entry.resource.id === undefined ? { ...entry.resource, id } : entry.resource;
        const r = await this.service.update(entry.type, id, body, { ...s, ...ifMatch });
        return { status: r.status, version: r.version };
      }
      case 'PATCH': {
        const r = await this.service.patch(entry.type, entry.id!, jsonPatchOf(entry), { ...s, ...ifMatch });
        return { status: r.status, version: r.version };
      }
      case 'DELETE': {
        const r = entry.query
          ? await this.service.conditionalDelete(entry.type, entry.query, s)
          : await this.service.delete(entry.type, entry.id!, { ...s, ...ifMatch });
        return { status: 204, ...(r.version ? { version: r.version } : {}) };
      }
      case 'GET':
      case 'HEAD': {
        const r = await this.get(entry.path, entry.query ?? new URLSearchParams(), session, baseUrl, viewer);
        return { status: r.status, body: r.body, ...(r.version ? { version: r.version } : {}) };
      }
    }
  }

  // ---- batch -----------------------------------------------------------------------------------------

  private async batch(entries: BundleEntry[], options: BundleOptions): Promise<string> {
    const results: EntryResult[] = [];
    for (const [i, raw] of entries.entries()) {
      try {
        const entry = parseEntry(raw, i, options.baseUrl);
        options.authorize?.(accessOf(entry));
        if (entry.method === 'POST' || (entry.method === 'PUT' && entry.query)) entry.id = undefined;
        results.push(await this.executeBatchEntry(entry, options.baseUrl, options.receivedAt, options.viewer, options.beforeCommit, options.actor));
      } catch (err) {
        // The client went away: nobody will read the answer, so the remaining entries are not run.
        if (err instanceof StoreUnavailableError && err.reason === 'cancelled') throw err;
        const known = err instanceof FhirError ? err : err instanceof StoreUnavailableError ? fromStoreUnavailable(err) : undefined;
        if (known) {
          results.push({ status: known.status, outcome: known.outcome });
        } else {
          // The entry's own transaction rolled back; earlier entries stay committed and are reported.
          options.onEntryFault?.(err, i);
          results.push({ status: 500, outcome: outcome([issue('exception', `Bundle.entry[${i}]: internal server error`)]) });
        }
      }
    }
    return responseBundle('batch-response', results, options);
  }

  private executeBatchEntry(entry: ParsedEntry, baseUrl: string, receivedAt: Date | undefined, viewer: Viewer | undefined, beforeCommit?: BeforeCommit, actor?: WriteActor): Promise<EntryResult> {
    if (entry.method === 'PUT' && entry.query) {
      return this.service
        .conditionalUpdate(entry.type, entry.query, entry.resource, {
          baseUrl,
          ...(receivedAt ? { receivedAt } : {}),
          ...(entry.ifMatch === undefined ? {} : { ifMatch: entry.ifMatch }),
          ...(viewer ? { viewer } : {}),
          ...(beforeCommit ? { beforeCommit } : {}),
          ...(actor ? { actor } : {}),
        })
        .then((r) => ({ status: r.status, version: r.version }));
    }
    return this.execute(entry, undefined, baseUrl, receivedAt, viewer, beforeCommit, actor);
  }
}

// ---- parsing and helpers --------------------------------------------------------------------------------

function parseEntry(entry: BundleEntry, index: number, baseUrl: string): ParsedEntry {
  const where = `Bundle.entry[${index}]`;
  const request = entry.request;
  if (!request?.method || !request.url) throw new FhirError(400, issue('required', `${where}: request.method and request.url are required`, { expression: [`${where}.request`] }));
  const method = request.method;
  // A NUL would reach PostgreSQL in the id, the criteria or the lock key and fail there.
  assertEntryText(request.url, `${where}.request.url`);
  if (request.ifNoneExist !== undefined) assertEntryText(request.ifNoneExist, `${where}.request.ifNoneExist`);
  if (entry.fullUrl !== undefined) assertEntryText(entry.fullUrl, `${where}.fullUrl`);
  let url = request.url;
  if (url.startsWith(baseUrl + '/')) url = url.slice(baseUrl.length + 1);
  url = url.replace(/^\/+/, '');
  const [path = '', queryText] = url.split('?', 2) as [string, string | undefined];
  const segments = path.split('/');
  const type = segments[0] ?? '';
  if (!/^[A-Z][A-Za-z]+$/.test(type)) throw new FhirError(400, issue('invalid', `${where}: request.url '${request.url}' does not name a resource type`, { expression: [`${where}.request.url`] }));
  const parsed: ParsedEntry = { index, method, type, path };
  if (segments[1] !== undefined) {
    if (!isValidId(segments[1])) throw new FhirError(400, issue('invalid', `${where}: '${segments[1]}' is not a valid id`, { expression: [`${where}.request.url`] }));
    parsed.id = segments[1];
  }
  if (segments[2] === '_history' && segments[3]) parsed.versionId = segments[3];
  if (queryText !== undefined) parsed.query = new URLSearchParams(queryText);
  if (entry.fullUrl) parsed.fullUrl = entry.fullUrl;
  // A copy that keeps LosslessNumbers (structuredClone would turn them into plain objects).
  if (entry.resource) parsed.resource = replaceReferences(entry.resource, () => undefined) as Resource;
  if (request.ifNoneExist) parsed.ifNoneExist = request.ifNoneExist;
  if (request.ifMatch) {
    const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(request.ifMatch);
    if (!m) throw new FhirError(400, issue('invalid', `${where}: ifMatch must be a version ETag like W/"1"`, { expression: [`${where}.request.ifMatch`] }));
    parsed.ifMatch = Number(m[1]);
  }
  const needsResource = method === 'POST' || method === 'PUT' || method === 'PATCH';
  if (needsResource && !parsed.resource) throw new FhirError(400, issue('required', `${where}: a ${method} entry needs a resource`, { expression: [`${where}.resource`] }));
  if ((method === 'PUT' || method === 'PATCH') && !parsed.id && !(method === 'PUT' && parsed.query)) {
    throw new FhirError(400, issue('invalid', `${where}: ${method} needs [type]/[id]${method === 'PUT' ? ' or [type]?criteria' : ''}`, { expression: [`${where}.request.url`] }));
  }
  if (method === 'DELETE' && !parsed.id && !parsed.query) {
    throw new FhirError(400, issue('invalid', `${where}: DELETE needs [type]/[id] or [type]?criteria`, { expression: [`${where}.request.url`] }));
  }
  if (!ORDER[method] && ORDER[method] !== 0) throw new FhirError(400, issue('not-supported', `${where}: method ${String(method)} is not supported`));
  return parsed;
}

/** A copy of a parsed entry that an attempt may rewrite, leaving the original as the request gave it. */
function freshEntry(e: ParsedEntry): ParsedEntry {
  const copy: ParsedEntry = { ...e };
  // replaceReferences copies (keeping LosslessNumbers, which structuredClone would turn into plain objects).
  if (e.resource) copy.resource = replaceReferences(e.resource, () => undefined) as Resource;
  if (e.query) copy.query = new URLSearchParams(e.query);
  return copy;
}

function assertEntryText(text: unknown, where: string): void {
  if (typeof text !== 'string') throw new FhirError(400, issue('invalid', `${where} must be a string`, { expression: [where] }));
  try {
    assertNoNul(text, where);
  } catch (err) {
    throw err instanceof FhirError ? new FhirError(400, err.issues.map((i) => ({ ...i, expression: [where] }))) : err;
  }
}

/** A JSON Patch in a Bundle travels as a Binary (contentType application/json-patch+json, base64 data). */
function jsonPatchOf(entry: ParsedEntry): unknown {
  const r = entry.resource;
  if (r?.resourceType !== 'Binary' || !/json-patch\+json/.test(r.contentType ?? '') || !r.data) {
    throw badRequest('A PATCH entry must carry a Binary with contentType application/json-patch+json');
  }
  try {
    return JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as unknown;
  } catch {
    throw badRequest('The PATCH entry Binary does not hold a JSON Patch document');
  }
}

/** Two entries may not touch the same resource in one transaction (R4 http.html#trules). */
function assertDistinctTargets(entries: ParsedEntry[]): void {
  const seen = new Map<string, number>();
  for (const e of entries) {
    if (e.method === 'GET' || e.method === 'HEAD' || !e.id) continue;
    const key = `${e.type}/${e.id}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw new FhirError(400, issue('invalid', `Bundle.entry[${other}] and Bundle.entry[${e.index}] both change ${key}; a transaction may touch a resource only once`, { expression: [`Bundle.entry[${e.index}]`] }));
    }
    seen.set(key, e.index);
  }
}

/** Rule issues found over the whole transaction are attributed to the entry that wrote their resource. */
function ruleErrorByEntry(err: RuleViolationError, entries: ParsedEntry[]): FhirError {
  const byResource = new Map<string, ParsedEntry>(entries.filter((e) => e.id).map((e) => [`${e.type}/${e.id}`, e]));
  const issues = err.checked.map(({ issue: i, resource }) => {
    const entry = resource ? byResource.get(resource) : undefined;
    return entry ? (entryError(new FhirError(err.status, i), entry) as FhirError).issues[0]! : i;
  });
  return new FhirError(err.status, issues, err.headers);
}

/** Names the failing entry in every issue, keeping the entry's own status. */
function entryError(err: unknown, entry: ParsedEntry): unknown {
  if (!(err instanceof FhirError)) return err;
  const where = `Bundle.entry[${entry.index}]`;
  if (err.issues.some((i) => i.diagnostics?.startsWith(where))) return err;
  const issues = err.issues.map((i) => ({
    ...i,
    diagnostics: `${where} (${entry.method} ${entry.path}): ${i.diagnostics ?? i.code}`,
    expression: [...(i.expression ?? []).map((x) => `${where}.resource.${x.replace(/^[A-Z][A-Za-z]+\./, '')}`), where],
  }));
  return new FhirError(err.status, issues, err.headers);
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

function responseBundle(type: 'transaction-response' | 'batch-response', results: EntryResult[], options: BundleOptions): string {
  const entries = results.map((r) => {
    const v = r.version;
    const response: Record<string, unknown> = { status: statusLine(r.status) };
    if (v && !v.deleted && r.status === 201) response.location = `${options.baseUrl}/${v.resourceType}/${v.id}/_history/${v.versionId}`;
    if (v) {
      response.etag = `W/"${v.versionId}"`;
      response.lastModified = v.lastUpdated;
    }
    if (r.outcome) response.outcome = r.outcome;
    // Stored texts go in as they are (they are the server's own compact JSON, decimals as stored):
    // parsing and re-serializing 1,000 entries with lossless-json blocked the event loop for ~100 ms.
    let resource: string | undefined;
    if (r.body !== undefined) resource = r.body;
    else if (v?.content && options.returnPreference === 'representation') resource = v.content;
    else if (v && options.returnPreference === 'OperationOutcome') {
      response.outcome = outcome([issue('informational', `${v.resourceType}/${v.id} version ${v.versionId}`, { severity: 'information' })]);
    }
    const parts: string[] = [];
    if (v && !v.deleted) parts.push(`"fullUrl":${JSON.stringify(`${options.baseUrl}/${v.resourceType}/${v.id}`)}`);
    if (resource !== undefined) parts.push(`"resource":${resource}`);
    parts.push(`"response":${stringifyLossless(response)}`);
    return `{${parts.join(',')}}`;
  });
  return `{"resourceType":"Bundle","id":${JSON.stringify(newId())},"type":${JSON.stringify(type)},"entry":[${entries.join(',')}]}`;
}

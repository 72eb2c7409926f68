// The FHIR RESTful interactions (R4 http.html) over a Repository: no HTTP framework and no SQL here.
// Every write runs validation first (outside the transaction: it needs no data), then, inside one
// transaction, locks, preconditions, the transactional checks and the write itself.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { applyJsonPatch } from './json-patch.js';
import { parseStored, plainNumbers, stringifyWithTexts, type NumberText } from './number-text.js';
import { relativizeReferences } from './references.js';
import { isValidId, newId } from './ids.js';
import { isResourceType } from './definitions.js';
import {
  FhirError,
  badRequest,
  gone,
  hasErrors,
  issue,
  notFound,
  preconditionFailed,
  unprocessable,
} from './outcome.js';
import type { HistoryPage, HistoryQuery, Repository, StoredVersion, WriteMethod, WriteTx } from './repository.js';
import { assertJsonHasNoNul, assertQueryHasNoNul } from './hostile-input.js';
import { assertSearchLimits, DEFAULT_SEARCH_LIMITS, type SearchLimits } from './search/limits.js';
import { CommitLog } from './commit-log.js';
import { ownedConformanceResource } from './owned-conformance.js';
import { noTransactionalChecks, RuleViolationError, type Arrival, type ProposedWrite, type ResourceValidator, type TransactionalChecker } from './write-pipeline.js';

export interface WriteResult {
  /** 201 when a resource was created, 200 otherwise (also when a conditional create found a match). */
  status: 200 | 201;
  version: StoredVersion;
}

export interface DeleteResult {
  /** The tombstone written, or undefined when nothing was deleted (already deleted / no match). */
  version?: StoredVersion;
  deletedCount: number;
}

export interface ServiceOptions {
  validate: ResourceValidator;
  checker?: TransactionalChecker;
  now?: () => Date;
  /** Base URLs that name this server (BASE_URL); references under them are stored relative. */
  baseUrls?: string[];
  /** Complexity limits for conditional criteria (If-None-Exist, PUT/DELETE [type]?criteria). */
  searchLimits?: SearchLimits;
}

type JsonObject = Record<string, unknown>;

/**
 * One database transaction seen by the interaction layer: the writes made so far, so the transactional
 * checks can run once over all of them just before commit (a transaction Bundle that ends one lead's
 * assignment and starts the next is judged as a whole).
 */
export class WriteSession {
  readonly writes: ProposedWrite[] = [];
  /**
   * When the client's request arrived. A rule rejection caused by a resource written after this
   * instant means another client's concurrent write won the race (409 rather than 422).
   */
  readonly startedAt: Date;
  constructor(
    readonly tx: WriteTx,
    startedAt?: Date,
    /** `Type/id` -> lastUpdated of each version written (see CommitLog). */
    readonly versions = new Map<string, string>(),
    /** The server itself writing (startup sync of its own conformance resources): not refused as owned. */
    readonly asServer = false,
  ) {
    this.startedAt = startedAt ?? new Date();
  }
}

/** Options shared by the write interactions: run inside an existing session (transaction Bundles). */
export interface InSession {
  session?: WriteSession;
  /** The base URL the client addressed: absolute references under it are stored as Type/id. */
  baseUrl?: string;
  /** When the request arrived (see WriteSession.startedAt). */
  receivedAt?: Date;
  /** The server's own write (owned-conformance.ts): only the startup sync sets it. */
  asServer?: boolean;
}

export class ResourceService {
  private readonly validateResource: ResourceValidator;
  private readonly checker: TransactionalChecker;
  private readonly now: () => Date;
  private readonly baseUrls: string[];
  private readonly searchLimits: SearchLimits;
  /** When this process saw its writes commit (409 vs 422 for rule rejections). */
  private readonly commits = new CommitLog();

  constructor(
    private readonly repo: Repository,
    options: ServiceOptions,
  ) {
    this.validateResource = options.validate;
    this.checker = options.checker ?? noTransactionalChecks;
    this.now = options.now ?? (() => new Date());
    this.baseUrls = options.baseUrls ?? [];
    this.searchLimits = options.searchLimits ?? DEFAULT_SEARCH_LIMITS;
  }

  // ---- reads ----------------------------------------------------------------------------------

  async read(type: string, id: string, options: InSession = {}): Promise<StoredVersion> {
    assertType(type);
    const source = options.session?.tx ?? this.repo;
    const v = isValidId(id) ? await source.read(type, id) : undefined;
    if (!v) throw notFound(`${type}/${id} is not known`);
    if (v.deleted) throw new FhirError(410, issue('deleted', `${type}/${id} was deleted`), etagHeaders(v));
    return v;
  }

  async vread(type: string, id: string, versionId: string, options: InSession = {}): Promise<StoredVersion> {
    assertType(type);
    const source = options.session?.tx ?? this.repo;
    const n = /^[1-9]\d{0,8}$/.test(versionId) ? Number(versionId) : undefined;
    const v = n !== undefined && isValidId(id) ? await source.readVersion(type, id, n) : undefined;
    if (!v) throw notFound(`${type}/${id}/_history/${versionId} is not known`);
    if (v.deleted) throw new FhirError(410, issue('deleted', `${type}/${id} version ${versionId} is a deletion`), etagHeaders(v));
    return v;
  }

  history(query: HistoryQuery): Promise<HistoryPage> {
    if (query.resourceType) assertType(query.resourceType);
    if (query.id !== undefined && !isValidId(query.id)) throw notFound(`${query.resourceType}/${query.id} is not known`);
    return this.repo.history(query);
  }

  // ---- validation without writing ($validate) ------------------------------------------------

  /** Runs every check a create (or update of `id`) would run, inside a transaction that writes nothing. */
  async validateOnly(type: string, body: unknown, mode: 'create' | 'update' | 'delete', id?: string, baseUrl?: string): Promise<OperationOutcomeIssue[]> {
    assertType(type);
    if (mode === 'delete') {
      if (!id) throw badRequest('$validate with mode=delete needs a resource id');
      const owned = ownedIssue(type, id);
      if (owned) return [owned];
      return this.repo.transaction(async (tx) => {
        const current = await tx.read(type, id);
        if (!current || current.deleted) return [];
        const checked = await this.checker.check(tx, [{ operation: 'delete', resourceType: type, id, previous: parse(current) }]);
        return checked.map((c) => c.issue);
      });
    }
    assertJsonHasNoNul(body, 'The resource');
    const plain = isObject(body) ? plainNumbers(body, type).plain : body;
    const candidate: unknown = isObject(plain) ? relativizeReferences(plain, this.localBases(baseUrl)) : plain;
    const issues = this.validateResource(candidate, type);
    if (hasErrors(issues)) return issues;
    const resource = candidate as Resource;
    if (mode === 'update' && id !== undefined && resource.id !== id) {
      return [issue('invalid', `Resource id '${resource.id ?? ''}' does not match the URL id '${id}'`, { expression: [`${type}.id`] })];
    }
    const targetId = mode === 'update' ? (id ?? resource.id) : undefined;
    const owned = ownedIssue(type, targetId ?? '', resource);
    if (owned) return [...issues, owned];
    // A transaction that writes nothing: the checks see committed data exactly as a real write would.
    return this.repo.transaction(async (tx) => {
      const previous = targetId ? await tx.read(type, targetId) : undefined;
      const writeId = targetId ?? newId();
      const write: ProposedWrite = {
        operation: previous && !previous.deleted ? 'update' : 'create',
        resourceType: type,
        id: writeId,
        resource: { ...resource, id: writeId },
        ...(previous && !previous.deleted ? { previous: parse(previous) } : {}),
      };
      return [...issues, ...(await this.checker.check(tx, [write])).map((c) => c.issue)];
    });
  }

  // ---- writes ----------------------------------------------------------------------------------

  /** Runs fn in the given session, or in a new transaction whose checks run before it commits. */
  private run<T>(options: InSession, fn: (session: WriteSession) => Promise<T>): Promise<T> {
    if (options.session) return fn(options.session);
    return this.inTransaction(fn, options.receivedAt, options.asServer);
  }

  /** A new transaction: fn's writes are checked together before commit; any error rolls all back. */
  async inTransaction<T>(fn: (session: WriteSession) => Promise<T>, receivedAt?: Date, asServer = false): Promise<T> {
    // Every attempt's versions (the repository retries serialization failures): all settle together.
    const versions = new Map<string, string>();
    try {
      const result = await this.repo.transaction(async (tx) => {
        const session = new WriteSession(tx, receivedAt, versions, asServer);
        const result = await fn(session);
        if (session.writes.length > 0) {
          const arrivedAt = session.startedAt.getTime();
          const arrival: Arrival = { at: arrivedAt, committedSince: (key, lastUpdated) => this.commits.committedSince(key, lastUpdated, arrivedAt) };
          const checked = await this.checker.check(tx, session.writes, arrival);
          const issues = checked.map((c) => c.issue);
          if (hasErrors(issues)) throw new RuleViolationError(statusOfRuleIssues(issues), checked);
        }
        return result;
      });
      this.commits.settled(versions, true);
      return result;
    } catch (err) {
      this.commits.settled(versions, false);
      throw err;
    }
  }

  /** create, or conditional create when ifNoneExist is given. */
  async create(type: string, body: unknown, options: { ifNoneExist?: string; id?: string } & InSession = {}): Promise<WriteResult> {
    assertType(type);
    const { resource, texts } = this.validated(body, type, options.baseUrl);
    const criteria = options.ifNoneExist === undefined ? undefined : conditionalQuery(options.ifNoneExist, 'If-None-Exist', this.searchLimits);
    return this.run(options, async (session) => {
      const { tx } = session;
      if (criteria) {
        // Two clients posting the same conditional create serialise on the normalised criteria, so
        // the second one's search sees the first one's committed resource (HAPI #3141 class of bug).
        await tx.lockKey(`conditional:${type}?${criteria.toString()}`);
        const matches = await tx.findMatches(type, criteria);
        if (matches.length > 1) throw preconditionFailed(`If-None-Exist matched ${matches.length} ${type} resources`);
        const match = matches[0];
        if (match !== undefined) {
          const existing = await tx.read(type, match);
          if (existing && !existing.deleted) return { status: 200, version: existing };
        }
      }
      // A transaction Bundle pre-assigns ids so urn:uuid references can be rewritten before writing.
      const id = options.id ?? newId();
      return this.write(session, type, id, resource, undefined, 'POST', texts);
    });
  }

  /** update by id; creates the resource when the id is new (update-as-create). */
  async update(type: string, id: string, body: unknown, options: { ifMatch?: number } & InSession = {}): Promise<WriteResult> {
    assertType(type);
    const { resource, texts } = this.validated(body, type, options.baseUrl);
    if (!isValidId(id)) throw badRequest(`'${id}' is not a valid resource id`);
    if (resource.id === undefined) throw badRequest('An update must carry the resource id in the body', [`${type}.id`]);
    if (resource.id !== id) throw badRequest(`Resource id '${resource.id}' does not match the URL id '${id}'`, [`${type}.id`]);
    return this.run(options, async (session) => {
      const current = await session.tx.lockCurrent(type, id);
      checkIfMatch(current, options.ifMatch, `${type}/${id}`);
      return this.write(session, type, id, resource, current, 'PUT', texts);
    });
  }

  /** conditional update: PUT [type]?criteria */
  async conditionalUpdate(type: string, query: URLSearchParams, body: unknown, options: { ifMatch?: number } & InSession = {}): Promise<WriteResult> {
    assertType(type);
    const criteria = conditionalQuery(query.toString(), 'conditional update', this.searchLimits);
    const { resource, texts } = this.validated(body, type, options.baseUrl);
    return this.run(options, async (session) => {
      const { tx } = session;
      await tx.lockKey(`conditional:${type}?${criteria.toString()}`);
      const matches = await tx.findMatches(type, criteria);
      if (matches.length > 1) throw preconditionFailed(`The criteria matched ${matches.length} ${type} resources`);
      const match = matches[0];
      if (match === undefined) {
        // No match: create, with the client's id when the body carries one (R4 3.1.0.4.3).
        const id = resource.id ?? newId();
        if (!isValidId(id)) throw badRequest(`'${id}' is not a valid resource id`, [`${type}.id`]);
        const current = await tx.lockCurrent(type, id);
        if (current && !current.deleted) throw new FhirError(409, issue('conflict', `${type}/${id} exists but does not match the criteria`));
        checkIfMatch(current, options.ifMatch, `${type}/${id}`);
        return this.write(session, type, id, resource, current, 'PUT', texts);
      }
      if (resource.id !== undefined && resource.id !== match) {
        throw badRequest(`Resource id '${resource.id}' does not match the resource found by the criteria (${match})`, [`${type}.id`]);
      }
      const current = await tx.lockCurrent(type, match);
      checkIfMatch(current, options.ifMatch, `${type}/${match}`);
      return this.write(session, type, match, { ...resource, id: match }, current, 'PUT', texts);
    });
  }

  /** JSON Patch (RFC 6902) applied to the current version, then validated like an update. */
  async patch(type: string, id: string, operations: unknown, options: { ifMatch?: number } & InSession = {}): Promise<WriteResult> {
    assertType(type);
    if (!isValidId(id)) throw notFound(`${type}/${id} is not known`);
    return this.run(options, async (session) => {
      const current = await session.tx.lockCurrent(type, id);
      if (!current) throw notFound(`${type}/${id} is not known`);
      if (current.deleted) throw gone(`${type}/${id} was deleted`);
      checkIfMatch(current, options.ifMatch, `${type}/${id}`);
      // Parsed keeping number texts, so decimals the patch does not touch keep theirs.
      const patched = applyJsonPatch(parseStored(current.content!) as JsonObject, operations);
      if (patched.resourceType !== type || patched.id !== id) {
        throw unprocessable([issue('processing', 'A patch may not change resourceType or id')]);
      }
      const { resource, texts } = this.validated(patched, type, options.baseUrl);
      return this.write(session, type, id, resource, current, 'PATCH', texts);
    });
  }

  async delete(type: string, id: string, options: { ifMatch?: number } & InSession = {}): Promise<DeleteResult> {
    assertType(type);
    if (!isValidId(id)) throw notFound(`${type}/${id} is not known`);
    return this.run(options, async (session) => {
      const current = await session.tx.lockCurrent(type, id);
      if (!current) throw notFound(`${type}/${id} is not known`);
      checkIfMatch(current, options.ifMatch, `${type}/${id}`);
      if (current.deleted) return { deletedCount: 0 }; // deleting twice has no effect (R4 3.1.0.7)
      const version = await this.tombstone(session, current);
      return { version, deletedCount: 1 };
    });
  }

  /** conditional delete: one match is deleted; several are refused with 412 (single-delete server). */
  async conditionalDelete(type: string, query: URLSearchParams, options: InSession = {}): Promise<DeleteResult> {
    assertType(type);
    const criteria = conditionalQuery(query.toString(), 'conditional delete', this.searchLimits);
    return this.run(options, async (session) => {
      const { tx } = session;
      await tx.lockKey(`conditional:${type}?${criteria.toString()}`);
      const matches = await tx.findMatches(type, criteria);
      if (matches.length > 1) throw preconditionFailed(`The criteria matched ${matches.length} ${type} resources; only one may be deleted at a time`);
      const match = matches[0];
      if (match === undefined) return { deletedCount: 0 };
      const current = await tx.lockCurrent(type, match);
      if (!current || current.deleted) return { deletedCount: 0 };
      return { version: await this.tombstone(session, current), deletedCount: 1 };
    });
  }

  // ---- internals --------------------------------------------------------------------------------

  /** The resource with plain numbers (for validation, rules and the index) and the number texts to store. */
  private validated(body: unknown, type: string, baseUrl: string | undefined): { resource: Resource; texts: NumberText[] } {
    // Not a resource of the URL's type at all is a malformed request (400); a resource of the right
    // type that breaks the definitions or rules is unprocessable (422).
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object (a FHIR resource)');
    const declared = (body as { resourceType?: unknown }).resourceType;
    if (declared !== type) {
      throw badRequest(`resourceType '${String(declared)}' does not match the URL type '${type}'`, ['resourceType']);
    }
    assertJsonHasNoNul(body, 'The resource');
    const { plain, texts } = plainNumbers(body as Resource, type);
    // One spelling per local resource: the rules, locks and search index all key on Type/id.
    const resource = relativizeReferences(plain, this.localBases(baseUrl));
    const issues = this.validateResource(resource, type);
    if (hasErrors(issues)) throw new FhirError(422, issues);
    return { resource, texts };
  }

  private localBases(requestBase: string | undefined): string[] {
    return requestBase ? [...this.baseUrls, requestBase] : this.baseUrls;
  }

  private async write(
    session: WriteSession,
    type: string,
    id: string,
    resource: Resource,
    current: StoredVersion | undefined,
    method: WriteMethod,
    texts: readonly NumberText[] = [],
  ): Promise<WriteResult> {
    if (!session.asServer) refuseOwned(type, id, resource);
    const previous = current && !current.deleted ? parse(current) : undefined;
    const proposed: ProposedWrite = {
      operation: previous ? 'update' : 'create',
      resourceType: type,
      id,
      resource: { ...resource, id },
      ...(previous ? { previous } : {}),
    };
    // Locks first (per-member, so racing writers serialise); the checks run over all of the
    // session's writes just before commit.
    await this.checker.lock(session.tx, [proposed]);
    session.writes.push(proposed);

    const versionId = (current?.versionId ?? 0) + 1;
    const lastUpdated = this.now().toISOString();
    const stored = stamp(resource, id, versionId, lastUpdated);
    this.commits.writing(`${type}/${id}`, lastUpdated);
    session.versions.set(`${type}/${id}`, lastUpdated);
    const version: StoredVersion = { resourceType: type, id, versionId, lastUpdated, deleted: false, content: stringifyWithTexts(stored, texts) };
    await session.tx.writeVersion(version, method, stored);
    return { status: current && !current.deleted ? 200 : 201, version };
  }

  private async tombstone(session: WriteSession, current: StoredVersion): Promise<StoredVersion> {
    if (!session.asServer) refuseOwned(current.resourceType, current.id);
    const previous = parse(current);
    const proposed: ProposedWrite = { operation: 'delete', resourceType: current.resourceType, id: current.id, previous };
    await this.checker.lock(session.tx, [proposed]);
    session.writes.push(proposed);
    const version: StoredVersion = {
      resourceType: current.resourceType,
      id: current.id,
      versionId: current.versionId + 1,
      lastUpdated: this.now().toISOString(),
      deleted: true,
    };
    await session.tx.writeVersion(version, 'DELETE');
    return version;
  }
}

/** The contract's own conformance resources are read-only (owned-conformance.ts): 422 naming the owned one. */
/** The issue of a write that would change, delete or impersonate one of the contract's owned resources. */
export function ownedIssue(type: string, id: string, resource?: Resource): OperationOutcomeIssue | undefined {
  const hit = ownedConformanceResource(type, id, resource);
  if (!hit) return undefined;
  return issue('business-rule', `${hit.owned} belongs to the Concord coordination contract and is read-only: it cannot be changed, deleted or claimed by another resource`, {
    expression: [hit.by === 'url' ? `${type}.url` : `${type}.id`],
  });
}

function refuseOwned(type: string, id: string, resource?: Resource): void {
  const owned = ownedIssue(type, id, resource);
  if (owned) throw new FhirError(422, owned);
}

/** Issues with code conflict mean a concurrent write won the race (409); other rule breaks are 422. */
function statusOfRuleIssues(issues: OperationOutcomeIssue[]): number {
  return issues.some((i) => i.code === 'conflict') ? 409 : 422;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function assertType(type: string): void {
  if (!isResourceType(type)) throw notFound(`Unknown resource type '${type}'`);
}

function parse(v: StoredVersion): Resource {
  return JSON.parse(v.content!) as Resource;
}

/** Server-owned meta: versionId and lastUpdated are always the server's, whatever the client sent. */
export function stamp(resource: Resource, id: string, versionId: number, lastUpdated: string): JsonObject {
  const { meta, ...rest } = resource as Resource & { meta?: JsonObject };
  return { ...rest, id, meta: { ...(meta ?? {}), versionId: String(versionId), lastUpdated } };
}

function checkIfMatch(current: StoredVersion | undefined, ifMatch: number | undefined, label: string): void {
  if (ifMatch === undefined) return;
  if (!current || current.deleted) throw preconditionFailed(`If-Match version ${ifMatch} given but ${label} has no current version`);
  if (current.versionId !== ifMatch) {
    throw preconditionFailed(`If-Match version ${ifMatch} does not match the current version ${current.versionId} of ${label}`);
  }
}

/** Conditional interactions need at least one criterion; the parameters are sorted so the lock key is stable. */
function conditionalQuery(raw: string, what: string, limits: SearchLimits): URLSearchParams {
  const q = new URLSearchParams(raw.startsWith('?') ? raw.slice(1) : raw.replace(/^[A-Za-z]+\?/, ''));
  if ([...q.keys()].length === 0) throw badRequest(`${what} needs search criteria`);
  // Before any SQL: a NUL would fail in PostgreSQL (500), an oversized query would run for minutes.
  assertQueryHasNoNul(q, what);
  assertSearchLimits(q, limits);
  q.sort();
  return q;
}

function etagHeaders(v: StoredVersion): Record<string, string> {
  return { ETag: `W/"${v.versionId}"`, 'Last-Modified': new Date(v.lastUpdated).toUTCString() };
}

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
import type { HistoryPage, HistoryQuery, ReadSnapshot, Repository, StoredVersion, WriteMethod, WriteTx } from './repository.js';
import { assertJsonHasNoNul, assertQueryHasNoNul } from './hostile-input.js';
import { criteriaText } from './search/criteria.js';
import { assertSearchLimits, DEFAULT_SEARCH_LIMITS, type SearchLimits } from './search/limits.js';
import { CommitLog } from './commit-log.js';
import { ownedConformanceResource } from './owned-conformance.js';
import { noTransactionalChecks, RuleViolationError, type Arrival, type OffloadedChecks, type ProposedWrite, type ResourceValidator, type TransactionalChecker, type TransactionReads } from './write-pipeline.js';
import { accessFilter, type AccessFilter, type Viewer } from '../access/viewer.js';
import { writeRefusal } from '../access/write-access.js';
import type { JsonSize } from './hostile-input.js';
import { attachIndex, type PreparedIndex } from './search/prepared-index.js';

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
  /**
   * Validation (and index extraction) of large resources off the event loop. It must run the same
   * validator as `validate` (server.ts wires validateForWrite to both).
   */
  offload?: OffloadedChecks;
  checker?: TransactionalChecker;
  now?: () => Date;
  /** Base URLs that name this server (BASE_URL); references under them are stored relative. */
  baseUrls?: string[];
  /** Complexity limits for conditional criteria (If-None-Exist, PUT/DELETE [type]?criteria). */
  searchLimits?: SearchLimits;
  /** Work done with every write transaction (see WriteHook), in order. */
  hooks?: readonly WriteHook[];
  /** What is stored of a validated resource, when it differs (write-only fields removed). */
  storedForm?: (resource: Resource) => Resource;
}

/** Who is writing, as far as the HTTP layer knows it (undefined fields when authentication is off). */
export interface WriteActor {
  clientId?: string;
  organization?: string;
}

/**
 * Work that rides on the write path: beforeCommit runs inside the transaction once the checks passed
 * (what it writes commits or rolls back with the resources); refused runs after a coordination rule
 * refused the batch and its transaction rolled back (it writes in a transaction of its own).
 */
export interface WriteHook {
  beforeCommit(session: WriteSession): Promise<void>;
  refused?(writes: readonly ProposedWrite[], error: RuleViolationError, actor: WriteActor | undefined): Promise<void>;
  /** After the transaction committed (e.g. wake a dispatcher); must not throw. */
  committed?(session: WriteSession): void;
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
  /**
   * The referenced resources the final checks read, after the transaction's last write: the hooks that
   * run right after them (beforeCommit) read these instead of the same rows again (TransactionReads).
   */
  readonly reads: TransactionReads = new Map();
  constructor(
    readonly tx: WriteTx,
    startedAt?: Date,
    /** `Type/id` -> lastUpdated of each version written (see CommitLog). */
    readonly versions = new Map<string, string>(),
    /** The server itself writing (startup sync of its own conformance resources): not refused as owned. */
    readonly asServer = false,
    readonly actor?: WriteActor,
    /** Every version this transaction wrote, with the interaction's method (for the AuditEvent). */
    readonly written: { version: StoredVersion; method: WriteMethod }[] = [],
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
  /**
   * The organization whose client asks (undefined = sees and writes everything): what it may not see
   * answers as if it did not exist, and it writes only as its organization (docs/adr/0008).
   */
  viewer?: Viewer;
  /** See BeforeCommit; ignored when running inside a given session (its owner passed its own). */
  beforeCommit?: BeforeCommit;
  /** Reads (read, and who may see it) within this snapshot (Repository.snapshot) instead of the store's current state. */
  snapshot?: ReadSnapshot;
  actor?: WriteActor;
}

/**
 * Runs inside the write transaction after the transactional checks passed, just before commit: what it
 * stores (the write's AuditEvent) commits with the writes or not at all. Throwing rolls everything back.
 */
export type BeforeCommit = (session: WriteSession) => Promise<void>;

export class ResourceService {
  private readonly validateResource: ResourceValidator;
  private readonly offload: OffloadedChecks | undefined;
  private readonly checker: TransactionalChecker;
  private readonly now: () => Date;
  private readonly baseUrls: string[];
  private readonly searchLimits: SearchLimits;
  private readonly hooks: readonly WriteHook[];
  private readonly storedForm: (resource: Resource) => Resource;
  /** When this process saw its writes commit (409 vs 422 for rule rejections). */
  private readonly commits = new CommitLog();

  constructor(
    private readonly repo: Repository,
    options: ServiceOptions,
  ) {
    this.validateResource = options.validate;
    this.offload = options.offload;
    this.checker = options.checker ?? noTransactionalChecks;
    this.now = options.now ?? (() => new Date());
    this.baseUrls = options.baseUrls ?? [];
    this.searchLimits = options.searchLimits ?? DEFAULT_SEARCH_LIMITS;
    this.hooks = options.hooks ?? [];
    this.storedForm = options.storedForm ?? ((r) => r);
  }

  // ---- reads ----------------------------------------------------------------------------------

  async read(type: string, id: string, options: InSession = {}): Promise<StoredVersion> {
    assertType(type);
    const source = options.session?.tx ?? options.snapshot ?? this.repo;
    const v = isValidId(id) ? await source.read(type, id) : undefined;
    if (!v || !(await this.visible(v, options))) throw notFound(`${type}/${id} is not known`);
    if (v.deleted) throw new FhirError(410, issue('deleted', `${type}/${id} was deleted`), etagHeaders(v));
    return v;
  }

  async vread(type: string, id: string, versionId: string, options: InSession = {}): Promise<StoredVersion> {
    assertType(type);
    const source = options.session?.tx ?? this.repo;
    const n = /^[1-9]\d{0,8}$/.test(versionId) ? Number(versionId) : undefined;
    const v = n !== undefined && isValidId(id) ? await source.readVersion(type, id, n) : undefined;
    if (!v || !(await this.visible(v, options))) throw notFound(`${type}/${id}/_history/${versionId} is not known`);
    if (v.deleted) throw new FhirError(410, issue('deleted', `${type}/${id} version ${versionId} is a deletion`), etagHeaders(v));
    return v;
  }

  /** With a viewer, only the versions it may see (an instance's history: see read for the 404). */
  history(query: HistoryQuery, viewer?: Viewer): Promise<HistoryPage> {
    if (query.resourceType) assertType(query.resourceType);
    if (query.id !== undefined && !isValidId(query.id)) throw notFound(`${query.resourceType}/${query.id} is not known`);
    const access = accessFilter(viewer, this.now());
    return this.repo.history(access ? { ...query, access } : query);
  }

  /** Whether the viewer may see a version: those in no member's compartment always. */
  private async visible(v: StoredVersion, options: InSession): Promise<boolean> {
    const access = this.access(options);
    if (!access || !v.members?.length) return true;
    return (options.session?.tx ?? options.snapshot ?? this.repo).canSee(access, v.members);
  }

  private access(options: InSession): AccessFilter | undefined {
    return accessFilter(options.viewer, this.now());
  }

  /** The storage filter for a viewer at this service's current instant (Bundles' conditional matching). */
  accessFor(viewer: Viewer | undefined): AccessFilter | undefined {
    return accessFilter(viewer, this.now());
  }

  /** A current version the viewer may not see answers 404, exactly as a resource that does not exist. */
  private async assertVisible(current: StoredVersion | undefined, session: WriteSession, options: InSession, label: string): Promise<void> {
    if (current && !(await this.visible(current, { ...options, session }))) throw notFound(`${label} is not known`);
  }

  /** 403 unless the viewer may make this write as its organization (src/access/write-access.ts). */
  private async assertMayWrite(session: WriteSession, options: InSession, type: string, id: string, resource: Resource | undefined, current: StoredVersion | undefined): Promise<void> {
    const viewer = options.viewer;
    if (!viewer) return;
    const { tx } = session;
    const access = this.access(options)!;
    const refusal = await writeRefusal(
      viewer,
      { resourceType: type, id, ...(resource ? { resource: { ...resource, id } } : {}), ...(current && !current.deleted ? { previous: parse(current) } : {}) },
      {
        read: async (t, i) => {
          const v = await tx.read(t, i);
          return v && !v.deleted ? parse(v) : undefined;
        },
        canSee: (members) => tx.canSee(access, members),
        practitionerRoleOrganizations: async (practitionerId) =>
          (await tx.findReferencing('Practitioner', practitionerId, [{ resourceType: 'PractitionerRole', code: 'practitioner' }])).map(
            (json) => (JSON.parse(json) as { organization?: { reference?: string } }).organization?.reference,
          ),
      },
    );
    if (refusal) throw new FhirError(403, issue('forbidden', refusal));
  }

  // ---- validation without writing ($validate) ------------------------------------------------

  /** Runs every check a create (or update of `id`) would run, inside a transaction that writes nothing. */
  async validateOnly(type: string, body: unknown, mode: 'create' | 'update' | 'delete', id?: string, baseUrl?: string, viewer?: Viewer): Promise<OperationOutcomeIssue[]> {
    // What the viewer may not see is judged as if it did not exist.
    const seen = async (tx: WriteTx, v: StoredVersion | undefined): Promise<StoredVersion | undefined> => {
      const access = accessFilter(viewer, this.now());
      return v && access && v.members?.length && !(await tx.canSee(access, v.members)) ? undefined : v;
    };
    assertType(type);
    if (mode === 'delete') {
      if (!id) throw badRequest('$validate with mode=delete needs a resource id');
      const owned = ownedIssue(type, id);
      if (owned) return [owned];
      return this.repo.transaction(async (tx) => {
        const current = await seen(tx, await tx.read(type, id));
        if (!current || current.deleted) return [];
        const checked = await this.checker.check(tx, [{ operation: 'delete', resourceType: type, id, previous: parse(current) }]);
        return checked.map((c) => c.issue);
      });
    }
    const size = assertJsonHasNoNul(body, 'The resource');
    const plain = isObject(body) ? plainNumbers(body, type).plain : body;
    const candidate: unknown = isObject(plain) ? relativizeReferences(plain, this.localBases(baseUrl)) : plain;
    const { issues } = await this.check(candidate, type, size, false);
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
      const previous = targetId ? await seen(tx, await tx.read(type, targetId)) : undefined;
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
    return this.inTransaction(fn, options.receivedAt, options.asServer, options.actor, options.beforeCommit);
  }

  /** A new transaction: fn's writes are checked together before commit; any error rolls all back. */
  async inTransaction<T>(fn: (session: WriteSession) => Promise<T>, receivedAt?: Date, asServer = false, actor?: WriteActor, beforeCommit?: BeforeCommit): Promise<T> {
    // Every attempt's versions (the repository retries serialization failures): all settle together.
    const versions = new Map<string, string>();
    let last: WriteSession | undefined;
    try {
      const result = await this.repo.transaction(async (tx) => {
        const session = (last = new WriteSession(tx, receivedAt, versions, asServer, actor));
        const result = await fn(session);
        if (session.writes.length > 0) {
          const arrivedAt = session.startedAt.getTime();
          const arrival: Arrival = { at: arrivedAt, committedSince: (key, lastUpdated) => this.commits.committedSince(key, lastUpdated, arrivedAt) };
          const checked = await this.checker.check(tx, session.writes, arrival, session.reads);
          const issues = checked.map((c) => c.issue);
          if (hasErrors(issues)) throw new RuleViolationError(statusOfRuleIssues(issues), checked);
        }
        for (const hook of this.hooks) await hook.beforeCommit(session);
        // The request's own (the AuditEvent) last: it records everything the hooks added too.
        if (beforeCommit) await beforeCommit(session);
        return result;
      });
      this.commits.settled(versions, true);
      if (last) for (const hook of this.hooks) hook.committed?.(last);
      return result;
    } catch (err) {
      this.commits.settled(versions, false);
      if (err instanceof RuleViolationError && last) {
        for (const hook of this.hooks) {
          try {
            await hook.refused?.(last.writes, err, actor);
          } catch {
            // The refusal is the answer either way; a hook reports its own failures.
          }
        }
      }
      throw err;
    }
  }

  /** create, or conditional create when ifNoneExist is given. */
  async create(type: string, body: unknown, options: { ifNoneExist?: string; id?: string } & InSession = {}): Promise<WriteResult> {
    assertType(type);
    const { resource, texts, index } = await this.validated(body, type, options);
    const criteria = options.ifNoneExist === undefined ? undefined : conditionalQuery(options.ifNoneExist, 'If-None-Exist', this.searchLimits);
    return this.run(options, async (session) => {
      const { tx } = session;
      if (criteria) {
        // Two clients posting the same conditional create serialise on the normalised criteria, so
        // the second one's search sees the first one's committed resource (HAPI #3141 class of bug).
        await tx.lockKey(`conditional:${type}?${criteria.toString()}`);
        const matches = await tx.findMatches(type, criteria, this.access(options));
        if (matches.length > 1) throw preconditionFailed(`If-None-Exist matched ${matches.length} ${type} resources`);
        const match = matches[0];
        if (match !== undefined) {
          const existing = await tx.read(type, match);
          if (existing && !existing.deleted) return { status: 200, version: existing };
        }
      }
      // A transaction Bundle pre-assigns ids so urn:uuid references can be rewritten before writing.
      const id = options.id ?? newId();
      await this.assertMayWrite(session, options, type, id, resource, undefined);
      return this.write(session, type, id, resource, undefined, 'POST', texts, index);
    });
  }

  /** update by id; creates the resource when the id is new (update-as-create). */
  async update(type: string, id: string, body: unknown, options: { ifMatch?: number } & InSession = {}): Promise<WriteResult> {
    assertType(type);
    const { resource, texts, index } = await this.validated(body, type, options);
    if (!isValidId(id)) throw badRequest(`'${id}' is not a valid resource id`);
    if (resource.id === undefined) throw badRequest('An update must carry the resource id in the body', [`${type}.id`]);
    if (resource.id !== id) throw badRequest(`Resource id '${resource.id}' does not match the URL id '${id}'`, [`${type}.id`]);
    return this.run(options, async (session) => {
      const current = await session.tx.lockCurrent(type, id);
      // Also an update-as-create of an id the viewer cannot see: never an overwrite (docs/adr/0008).
      await this.assertVisible(current, session, options, `${type}/${id}`);
      checkIfMatch(current, options.ifMatch, `${type}/${id}`);
      await this.assertMayWrite(session, options, type, id, resource, current);
      return this.write(session, type, id, resource, current, 'PUT', texts, index);
    });
  }

  /** conditional update: PUT [type]?criteria */
  async conditionalUpdate(type: string, query: URLSearchParams, body: unknown, options: { ifMatch?: number } & InSession = {}): Promise<WriteResult> {
    assertType(type);
    const criteria = conditionalQuery(query.toString(), 'conditional update', this.searchLimits);
    const { resource, texts, index } = await this.validated(body, type, options);
    return this.run(options, async (session) => {
      const { tx } = session;
      await tx.lockKey(`conditional:${type}?${criteria.toString()}`);
      const matches = await tx.findMatches(type, criteria, this.access(options));
      if (matches.length > 1) throw preconditionFailed(`The criteria matched ${matches.length} ${type} resources`);
      const match = matches[0];
      if (match === undefined) {
        // No match: create, with the client's id when the body carries one (R4 3.1.0.4.3).
        const id = resource.id ?? newId();
        if (!isValidId(id)) throw badRequest(`'${id}' is not a valid resource id`, [`${type}.id`]);
        const current = await tx.lockCurrent(type, id);
        await this.assertVisible(current, session, options, `${type}/${id}`);
        if (current && !current.deleted) throw new FhirError(409, issue('conflict', `${type}/${id} exists but does not match the criteria`));
        checkIfMatch(current, options.ifMatch, `${type}/${id}`);
        await this.assertMayWrite(session, options, type, id, resource, current);
        return this.write(session, type, id, resource, current, 'PUT', texts, index);
      }
      if (resource.id !== undefined && resource.id !== match) {
        throw badRequest(`Resource id '${resource.id}' does not match the resource found by the criteria (${match})`, [`${type}.id`]);
      }
      const current = await tx.lockCurrent(type, match);
      // Matched before the row was locked: a change committed meanwhile may have hidden it.
      await this.assertVisible(current, session, options, `${type}/${match}`);
      checkIfMatch(current, options.ifMatch, `${type}/${match}`);
      await this.assertMayWrite(session, options, type, match, resource, current);
      return this.write(session, type, match, { ...resource, id: match }, current, 'PUT', texts, index);
    });
  }

  /** JSON Patch (RFC 6902) applied to the current version, then validated like an update. */
  async patch(type: string, id: string, operations: unknown, options: { ifMatch?: number } & InSession = {}): Promise<WriteResult> {
    assertType(type);
    if (!isValidId(id)) throw notFound(`${type}/${id} is not known`);
    return this.run(options, async (session) => {
      const current = await session.tx.lockCurrent(type, id);
      await this.assertVisible(current, session, options, `${type}/${id}`);
      if (!current) throw notFound(`${type}/${id} is not known`);
      if (current.deleted) throw gone(`${type}/${id} was deleted`);
      checkIfMatch(current, options.ifMatch, `${type}/${id}`);
      // Parsed keeping number texts, so decimals the patch does not touch keep theirs.
      const patched = applyJsonPatch(parseStored(current.content!) as JsonObject, operations);
      if (patched.resourceType !== type || patched.id !== id) {
        throw unprocessable([issue('processing', 'A patch may not change resourceType or id')]);
      }
      const { resource, texts, index } = await this.validated(patched, type, options);
      await this.assertMayWrite(session, options, type, id, resource, current);
      return this.write(session, type, id, resource, current, 'PATCH', texts, index);
    });
  }

  async delete(type: string, id: string, options: { ifMatch?: number } & InSession = {}): Promise<DeleteResult> {
    assertType(type);
    if (!isValidId(id)) throw notFound(`${type}/${id} is not known`);
    return this.run(options, async (session) => {
      const current = await session.tx.lockCurrent(type, id);
      await this.assertVisible(current, session, options, `${type}/${id}`);
      if (!current) throw notFound(`${type}/${id} is not known`);
      checkIfMatch(current, options.ifMatch, `${type}/${id}`);
      if (current.deleted) return { deletedCount: 0 }; // deleting twice has no effect (R4 3.1.0.7)
      await this.assertMayWrite(session, options, type, id, undefined, current);
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
      const matches = await tx.findMatches(type, criteria, this.access(options));
      if (matches.length > 1) throw preconditionFailed(`The criteria matched ${matches.length} ${type} resources; only one may be deleted at a time`);
      const match = matches[0];
      if (match === undefined) return { deletedCount: 0 };
      const current = await tx.lockCurrent(type, match);
      // Matched before the row was locked: one hidden meanwhile matches nothing, as if it did not exist.
      if (!current || current.deleted || !(await this.visible(current, { ...options, session }))) return { deletedCount: 0 };
      await this.assertMayWrite(session, options, type, match, undefined, current);
      return { version: await this.tombstone(session, current), deletedCount: 1 };
    });
  }

  // ---- internals --------------------------------------------------------------------------------

  /** The resource with plain numbers (for validation, rules and the index) and the number texts to store. */
  private async validated(body: unknown, type: string, options: InSession): Promise<{ resource: Resource; texts: NumberText[]; index?: PreparedIndex }> {
    // Not a resource of the URL's type at all is a malformed request (400); a resource of the right
    // type that breaks the definitions or rules is unprocessable (422).
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object (a FHIR resource)');
    const declared = (body as { resourceType?: unknown }).resourceType;
    if (declared !== type) {
      throw badRequest(`resourceType '${String(declared)}' does not match the URL type '${type}'`, ['resourceType']);
    }
    const size = assertJsonHasNoNul(body, 'The resource');
    const { plain, texts } = plainNumbers(body as Resource, type);
    // One spelling per local resource: the rules, locks and search index all key on Type/id.
    const resource = relativizeReferences(plain, this.localBases(options.baseUrl));
    // The server's own start-up writes stay inline: no request waits on them, and no thread starts for them.
    const { issues, index } = await this.check(resource, type, options.asServer ? undefined : size, true);
    if (hasErrors(issues)) throw new FhirError(422, issues);
    return index ? { resource, texts, index } : { resource, texts };
  }

  /** Structural validation: on a worker for a large resource (with its index rows when asked), else inline. */
  private async check(resource: unknown, type: string, size: JsonSize | undefined, index: boolean): Promise<{ issues: OperationOutcomeIssue[]; index?: PreparedIndex }> {
    const offloaded = size && this.offload?.run(resource, type, size, index);
    return offloaded ? await offloaded : { issues: this.validateResource(resource, type) };
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
    index?: PreparedIndex,
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
    const stored = stamp(this.storedForm(resource), id, versionId, lastUpdated);
    if (index) attachIndex(stored, index);
    this.commits.writing(`${type}/${id}`, lastUpdated);
    session.versions.set(`${type}/${id}`, lastUpdated);
    const version: StoredVersion = { resourceType: type, id, versionId, lastUpdated, deleted: false, content: stringifyWithTexts(stored, texts) };
    await session.tx.writeVersion(version, method, stored);
    session.written.push({ version, method });
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
    session.written.push({ version, method: 'DELETE' });
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
  const q = new URLSearchParams(criteriaText(raw));
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

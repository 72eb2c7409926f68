// SQL for resources and their history. Every write goes through writeVersion inside a transaction: one
// statement (version-write.ts) stores the current row, the history row, the search index rows, the
// coordination facts, the access rows and the change notification. Nothing in the transaction waits for
// that statement or for the AuditEvent insert: they travel in the same round trip as the statement after
// them (or the COMMIT), and any failure of theirs is the transaction's (docs/adr/0013).
import { createHash } from 'node:crypto';
import type { HistoryPage, HistoryQuery, ReadSnapshot, Repository, SearchPage, StoredVersion, WriteMethod, WriteTx } from '../fhir/repository.js';
import { SqlState, sqlStateOf, type Database, type Queryable, type QueryOptions, type TransactionQueryable } from './database.js';
import { isConnectionError } from './faults.js';
import { ChangeListener } from './change-listener.js';
import { ReadCache } from './read-cache.js';
import { ReadFence } from './read-fence.js';
import { asClientFault, mapClientFaults } from './client-faults.js';
import { selectByFacts } from './coordination-facts.js';
import { insertAuditRecords } from './audit-store.js';
import type { AuditRecord } from '../audit/types.js';
import { executeSearch, findMatchingIds } from './search/index.js';
import { indexOf } from './search/write-index.js';
import { versionWriteStatement, type VersionWriteRow } from './version-write.js';
import { SqlParams } from './search/sql-params.js';
import { visibleSql } from './member-access.js';
import type { SearchRequest } from '../fhir/search/types.js';
import type { FactQuery } from '../coordination/facts.js';
import type { AccessFilter } from '../access/viewer.js';
import type { CommitWatcher } from '../subscriptions/candidate-cache.js';
import { AccessCache } from './access-cache.js';
import { membersColumn, membersFromIndex } from '../access/compartment.js';
import { ACCESS_CHANGE_PREFIX, ALL_MEMBERS, decideMembers } from './member-access.js';
import type { BatchCommit, BatchVersion, BulkWriteTx, ImportStore, ReferencingResource } from '../import/store.js';
import { findReferencingMany, lockCurrentMany, lockKeys, readCurrentMany, recordBatch, SqlImportJournal, writeVersions } from './import-store.js';

interface VersionRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date | string;
  deleted: boolean;
  content: string | null;
  members: string[] | null;
}

// lastUpdated leaves the database already as the ISO text FHIR serves (millisecond precision, UTC),
// which spares a Date parse and re-format on every read.
export const LAST_UPDATED = `to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_updated`;

const toIso = (v: Date | string): string => (v instanceof Date ? v.toISOString() : v);

function toStored(row: VersionRow): StoredVersion {
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: toIso(row.last_updated),
    deleted: row.deleted,
    ...(row.content === null ? {} : { content: row.content }),
    ...(row.members === null ? {} : { members: row.members }),
  };
}

/** Advisory lock keys are 64-bit; a SHA-256 prefix of the logical key keeps collisions negligible. */
export function lockKeyOf(key: string): string {
  return createHash('sha256').update(key).digest().readBigInt64BE(0).toString();
}

/** Fixed hot-path statements are prepared once per connection. */
const PREPARED = { prepare: true } as const;

const RETRYABLE = new Set<string>([SqlState.serializationFailure, SqlState.deadlockDetected, SqlState.uniqueViolation]);
const MAX_ATTEMPTS = 5;

/** The connection of each open write transaction, for other storage modules writing in it (queryableOf). */
const connections = new WeakMap<WriteTx, TransactionQueryable>();

/**
 * The connection a WriteTx runs on: storage modules (subscription events) write in the same transaction,
 * and may send a statement without waiting for it (commitsOnlyAfter).
 */
export function queryableOf(tx: WriteTx): TransactionQueryable {
  const q = connections.get(tx);
  if (!q) throw new Error('not a write transaction of this repository');
  return q;
}

/** Resolves once send has put its statements on the wire (not when they are done); rejects if it throws. */
export function sent(send: () => void): Promise<void> {
  try {
    send();
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

class Tx implements BulkWriteTx {
  /** Keys this transaction wrote: dropped from the read cache at write time and again at the end. */
  readonly written = new Set<string>();
  /** Members whose access rows this transaction changed: dropped from the access cache likewise. */
  readonly accessChanged = new Set<string>();

  constructor(
    private readonly q: TransactionQueryable,
    private readonly cache: ReadCache | undefined,
    /** Channel that tells other Concord instances a resource changed (PostgreSQL), if any. */
    private readonly changeChannel: string | undefined,
    private readonly maxIndexRows: number | undefined,
    private readonly accessCache: AccessCache | undefined,
  ) {
    connections.set(this, q);
  }

  async lockCurrent(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    const res = await this.q.query<VersionRow>(
      `SELECT resource_type, id, version_id, ${LAST_UPDATED}, deleted, content, members
         FROM resource WHERE resource_type = $1 AND id = $2 FOR UPDATE`,
      [resourceType, id],
      PREPARED,
    );
    const row = res.rows[0];
    return row ? toStored(row) : undefined;
  }

  /** Sent at once and not waited for: it is the transaction's last statement, COMMIT follows it. */
  appendAuditEvents(records: readonly AuditRecord[]): Promise<void> {
    return sent(() => this.q.commitsOnlyAfter(insertAuditRecords(this.q, records)));
  }

  async lockKey(key: string): Promise<void> {
    await this.q.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKeyOf(key)], PREPARED);
  }

  async read(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    return readCurrent(this.q, resourceType, id);
  }

  readVersion(resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
    return readVersion(this.q, resourceType, id, versionId);
  }

  async findMatches(resourceType: string, query: URLSearchParams, access?: AccessFilter): Promise<string[]> {
    return findMatchingIds(this.q, resourceType, query, undefined, access);
  }

  async canSee(access: AccessFilter, members: readonly string[]): Promise<boolean> {
    if (members.length === 0) return true;
    return (await decideMembers(this.q, access, members)).every((d) => d.visible);
  }

  search(request: SearchRequest): Promise<SearchPage> {
    return executeSearch(this.q, request);
  }

  async findReferencing(targetType: string, targetId: string, via: readonly { resourceType: string; code: string }[]): Promise<string[]> {
    if (via.length === 0) return [];
    // One equality branch per (type, code): the prepared statement's generic plan then probes
    // search_reference_target_idx with plain equalities (measured 0.37-0.53 ms per call in a write
    // transaction against 0.65 ms for the unnest() join it replaces).
    const branches = via.map(
      (_, i) => `SELECT rid FROM search_reference WHERE resource_type = $${3 + 2 * i} AND code = $${4 + 2 * i} AND target_id = $2 AND target_type = $1 AND url IS NULL`,
    );
    const res = await this.q.query<{ content: string }>(
      `SELECT r.content FROM resource r WHERE r.rid IN (${branches.join(' UNION ALL ')}) AND NOT r.deleted ORDER BY r.rid`,
      [targetType, targetId, ...via.flatMap((v) => [v.resourceType, v.code])],
      PREPARED,
    );
    return res.rows.map((r) => r.content);
  }

  findByFacts(memberId: string, queries: readonly FactQuery[]): Promise<string[]> {
    return selectByFacts(this.q, memberId, queries);
  }

  writeVersion(v: StoredVersion, method: WriteMethod, resource?: Record<string, unknown>): Promise<void> {
    return sent(() => this.sendVersion(v, method, resource));
  }

  private sendVersion(v: StoredVersion, method: WriteMethod, resource: Record<string, unknown> | undefined): void {
    const key = ReadCache.key(v.resourceType, v.id);
    this.written.add(key);
    this.cache?.delete(key);
    const stored = v.deleted ? undefined : resource;
    // Extracted before any SQL: a resource needing too many index rows is refused (422) without a write.
    const index = indexOf(stored, this.maxIndexRows);
    const { sql, params } = versionWriteStatement({
      version: v,
      method,
      resource: stored,
      index: index?.insert,
      // A deletion keeps the members of the version it deletes (null = keep the row's). Read off the
      // index rows just extracted (equal to membersColumn, tested): no second FHIRPath evaluation.
      members: v.deleted ? null : stored && index ? membersFromIndex(stored, index.rows) : membersColumn(resource),
      // Delivered at commit (and only if it commits) to every instance's read cache.
      notify: this.changeChannel ? { channel: this.changeChannel, payload: key } : undefined,
    });
    // Sent, not waited for: the next statement of the transaction (or its COMMIT) goes out right behind it
    // and waits for both; a failure here (a unique-key race, a stale version) is what the transaction
    // then fails with. A stale version must fail in SQL (versionWriteStatement does): COMMIT may be sent
    // before this result is seen, so a check here could not stop the rest of the transaction committing.
    const written = this.q.query<VersionWriteRow>(sql, params, PREPARED).then((res) => {
      const row = res.rows[0];
      if (row === undefined) throw new Error(`the version write of ${v.resourceType}/${v.id} returned no row`);
      const changed = v.resourceType === 'PractitionerRole' ? [ALL_MEMBERS] : (row.access_changed ?? []);
      for (const member of changed) {
        this.accessChanged.add(member);
        this.accessCache?.invalidate(member);
      }
    });
    this.q.commitsOnlyAfter(written);
  }

  // ---- bulk import (src/import): many resources per statement, see import-store.ts ----

  lockKeys(keys: readonly string[]): Promise<void> {
    return lockKeys(this.q, keys);
  }

  lockCurrentMany(refs: readonly { resourceType: string; id: string }[]): Promise<Map<string, StoredVersion>> {
    return lockCurrentMany(this.q, refs);
  }

  readCurrentMany(refs: readonly { resourceType: string; id: string }[]): Promise<Map<string, StoredVersion>> {
    return readCurrentMany(this.q, refs);
  }

  findReferencingMany(memberIds: readonly string[], via: readonly { resourceType: string; code: string }[]): Promise<Map<string, ReferencingResource[]>> {
    return findReferencingMany(this.q, memberIds, via);
  }

  /** Sent, not waited for (as writeVersion): the caller judges its next lines while PostgreSQL writes these. */
  writeVersions(versions: readonly BatchVersion[]): Promise<void> {
    return sent(() => {
      for (const v of versions) {
        const key = ReadCache.key(v.version.resourceType, v.version.id);
        this.written.add(key);
        this.cache?.delete(key);
      }
      // Dropped now and again when the transaction ends (as writeVersion does): on the embedded store
      // nothing else tells this instance's access cache that an import changed who sees a member.
      const written = writeVersions(this.q, versions, this.maxIndexRows, this.changeChannel).then((changed) => {
        for (const member of changed) {
          this.accessChanged.add(member);
          this.accessCache?.invalidate(member);
        }
      });
      this.q.commitsOnlyAfter(written);
    });
  }

  recordBatch(fileKey: string, batch: BatchCommit): Promise<void> {
    return recordBatch(this.q, fileKey, batch);
  }
}

async function readCurrent(q: Queryable, resourceType: string, id: string): Promise<StoredVersion | undefined> {
  const res = await q.query<VersionRow>(
    `SELECT resource_type, id, version_id, ${LAST_UPDATED}, deleted, content, members
       FROM resource WHERE resource_type = $1 AND id = $2`,
    [resourceType, id],
    PREPARED,
  );
  const row = res.rows[0];
  return row ? toStored(row) : undefined;
}

async function readVersion(q: Queryable, resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
  const res = await q.query<VersionRow>(
    `SELECT resource_type, id, version_id, ${LAST_UPDATED}, method = 'DELETE' AS deleted, content, members
       FROM resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
    [resourceType, id, versionId],
  );
  const row = res.rows[0];
  return row ? toStored(row) : undefined;
}

export interface RepositoryOptions {
  /** Entries of the read cache of current versions (0 disables it). */
  readCacheEntries?: number;
  /** Search index rows one parameter may produce for one resource (see extractIndexValues). */
  maxIndexRows?: number;
  /** statement_timeout inside write transactions (ms; 0/unset = none). */
  writeTimeoutMs?: number;
  /**
   * While other instances write to the same database, how this instance's caches (read-by-id, access
   * decisions, Subscription candidates) prove they are current (docs/adr/0016): 'sync' waits for a sync on
   * the change listener, 'database' asks the database instead (default: heardEarlierCommits answers
   * false at once). A sync is a NOTIFY that PostgreSQL signals to every listening instance, so its cost
   * grows with the instances; the query is one indexed statement whatever their number.
   */
  readCacheWithPeers?: 'sync' | 'database';
}

/**
 * Reads are retried once when their connection failed (a restarted server, a terminated session): the
 * pool discards the dead connection, so the retry gets a fresh one. Writes are never retried here: a
 * lost COMMIT may have committed.
 */
async function retryRead<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isConnectionError(err)) throw err;
    return fn();
  }
}

/** A Queryable whose every statement is cancelled when signal aborts. */
function withSignal(q: Queryable, signal: AbortSignal | undefined): Queryable {
  if (!signal) return q;
  return {
    query: (sql, params, options?: QueryOptions) => q.query(sql, params, { ...options, signal }),
    exec: (sql) => q.exec(sql),
  };
}

export class ResourceRepository implements Repository {
  private readonly cache: ReadCache | undefined;
  private readonly accessCache: AccessCache | undefined;
  private readonly changeChannel: string | undefined;
  private readonly maxIndexRows: number | undefined;
  private listener: ChangeListener | undefined;
  /** PostgreSQL: proves a cache hit is not older than a commit of another instance (docs/adr/0016). */
  private readonly fence: ReadFence | undefined;
  private readonly writeTimeoutMs: number;
  private readonly readCacheWithPeers: 'sync' | 'database';
  /** Other per-instance caches told of every commit heard (src/subscriptions/candidate-cache.ts). */
  private readonly watchers: CommitWatcher[] = [];
  private listening = false;

  constructor(
    private readonly db: Database,
    options: RepositoryOptions = {},
  ) {
    this.writeTimeoutMs = options.writeTimeoutMs ?? 0;
    this.readCacheWithPeers = options.readCacheWithPeers ?? 'database';
    const entries = options.readCacheEntries ?? 10_000;
    this.maxIndexRows = options.maxIndexRows;
    this.cache = entries > 0 ? new ReadCache(entries) : undefined;
    this.accessCache = entries > 0 ? new AccessCache() : undefined;
    // PGlite is single-process: every write passes through here. PostgreSQL may have other writers
    // (other Concord instances), so its cache stays off until the change listener is connected.
    this.changeChannel = db.kind === 'postgres' ? `concord_changes_${db.namespace}` : undefined;
    if (this.cache && this.changeChannel) this.cache.enabled = false;
    if (this.accessCache && this.changeChannel) this.accessCache.enabled = false;
    const channel = this.changeChannel;
    if (channel) {
      this.fence = new ReadFence({
        announce: async (payload) => void (await db.query('SELECT pg_notify($1, $2)', [channel, payload])),
        sync: (payload) => this.listener?.notify(payload) ?? Promise.reject(new Error('not listening')),
      });
    }
  }

  /**
   * Whether every change committed before this call has reached this instance's caches (docs/adr/0016):
   * at once when no other instance writes, else after a sync ('sync' only); false when that cannot be
   * proven or is not tried ('database').
   */
  async heardEarlierCommits(): Promise<boolean> {
    if (!this.fence || this.fence.alone) return true;
    // 'database': no sync while peers write; the caller asks the database instead (one query of its own).
    // At two or three instances that costs what a sync does, but a sync is a NOTIFY that wakes every
    // listening instance, so its cost grows with them, and a write would wait for a lagging listener
    // inside its transaction (bench/RESULTS.md, 2026-12-06).
    if (this.readCacheWithPeers === 'database') return false;
    return this.fence.barrier().then(
      () => true,
      () => false,
    );
  }

  /**
   * Tells `watcher` of every resource key a commit wrote: this instance's at the end of the transaction
   * (before the caller answers), other instances' as the change listener hears them (PostgreSQL; register
   * before init). onConnected: from then on nothing is missed (at once on PGlite, a single process).
   */
  watchCommits(watcher: CommitWatcher): void {
    this.watchers.push(watcher);
    if (!this.changeChannel || this.listening) watcher.onConnected();
  }

  /** Starts the cross-instance cache invalidation (PostgreSQL); without it the caches stay off. */
  async init(): Promise<void> {
    const cache = this.cache;
    const access = this.accessCache;
    const fence = this.fence;
    if (!this.changeChannel || !fence) return;
    if ((cache && access) || this.watchers.length > 0) {
      this.listener = new ChangeListener(this.db, this.changeChannel, {
        onChange: (payload) => {
          if (fence.onMessage(payload)) return;
          if (payload.startsWith(ACCESS_CHANGE_PREFIX)) access?.invalidate(payload.slice(ACCESS_CHANGE_PREFIX.length));
          else {
            cache?.delete(payload);
            for (const w of this.watchers) w.onChange(payload);
          }
        },
        onConnected: () => {
          cache?.clear();
          access?.clear();
          fence.connected();
          this.listening = true;
          if (cache) cache.enabled = true;
          if (access) access.enabled = true;
          for (const w of this.watchers) w.onConnected();
        },
        onLost: () => {
          if (cache) cache.enabled = false;
          if (access) access.enabled = false;
          this.listening = false;
          fence.lost();
          cache?.clear();
          access?.clear();
          for (const w of this.watchers) w.onLost();
        },
      });
      await this.listener.start();
    }
    // Every instance announces itself, cache or not: the others must know that someone else writes.
    await fence.start(this.listener !== undefined);
  }

  get kind(): 'postgres' | 'pglite' {
    return this.db.kind;
  }

  /** signal: the client went away; the running statement is cancelled. */
  search(request: SearchRequest, options: { signal?: AbortSignal } = {}): Promise<SearchPage> {
    return mapClientFaults(retryRead(() => executeSearch(withSignal(this.db, options.signal), request)));
  }

  async read(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    const cache = this.cache;
    if (!cache?.enabled) return retryRead(() => readCurrent(this.db, resourceType, id));
    const key = ReadCache.key(resourceType, id);
    const hit = cache.get(key);
    if (hit) {
      if (!this.fence || this.fence.alone) return hit;
      // With peers: a sync first ('sync'), or at once unproven ('database'), then the row is read.
      const again = (await this.heardEarlierCommits()) && cache.enabled ? cache.get(key) : undefined;
      if (again) return again;
    }
    const generation = cache.generation;
    const v = await retryRead(() => readCurrent(this.db, resourceType, id));
    // Only when nothing was invalidated while this read ran: the row might predate that write.
    if (v && cache.enabled && cache.generation === generation) cache.set(key, v);
    return v;
  }

  readVersion(resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
    return retryRead(() => readVersion(this.db, resourceType, id, versionId));
  }

  async canSee(access: AccessFilter, members: readonly string[]): Promise<boolean> {
    let cache = this.accessCache?.enabled ? this.accessCache : undefined;
    // A cached decision may predate another instance's commit (an opt-out): same proof as read-cache hits.
    if (cache && members.length > 0 && !(await this.heardEarlierCommits())) cache = undefined;
    const unknown: string[] = [];
    for (const m of members) {
      const hit = cache?.get(access.organization, m, access.now);
      if (hit === false) return false;
      if (hit === undefined) unknown.push(m);
    }
    if (unknown.length === 0) return true;
    const generation = cache?.generation ?? 0;
    const decisions = await retryRead(() => decideMembers(this.db, access, unknown));
    cache?.fill(access.organization, decisions, generation);
    return decisions.every((d) => d.visible);
  }

  history(query: HistoryQuery): Promise<HistoryPage> {
    return retryRead(() => this.historyOnce(query));
  }

  private async historyOnce(query: HistoryQuery): Promise<HistoryPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown): void => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (query.resourceType) add('resource_type = ?', query.resourceType);
    if (query.id) add('id = ?', query.id);
    if (query.since) add('last_updated >= ?', query.since);
    if (query.access) {
      // The predicate numbers its parameters after the ones added so far.
      const p = new SqlParams();
      p.values.push(...params);
      where.push(visibleSql(query.access, 'members', p));
      params.splice(0, params.length, ...p.values);
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const pageFilter = query.before === undefined ? filter : `${filter ? `${filter} AND` : 'WHERE'} seq < ${Number(query.before)}`;
    params.push(query.count + 1);
    // Newest first; the global sequence makes pages stable while other clients write (new versions
    // only ever get larger seq values, so a cursor never shifts).
    const res = await this.db.query<VersionRow & { seq: number; method: WriteMethod }>(
      `SELECT seq, resource_type, id, version_id, ${LAST_UPDATED}, method, method = 'DELETE' AS deleted, content, members
         FROM resource_version ${pageFilter} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    const rows = res.rows.slice(0, query.count);
    const totalRes = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource_version ${filter}`, params.slice(0, -1));
    const page: HistoryPage = {
      versions: rows.map((r) => ({ ...toStored(r), method: r.method })),
      total: totalRes.rows[0]?.n ?? 0,
    };
    const last = rows[rows.length - 1];
    if (res.rows.length > query.count && last) page.next = last.seq;
    return page;
  }

  transaction<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    return this.bulkTransaction(fn);
  }

  snapshot<T>(fn: (reader: ReadSnapshot) => Promise<T>): Promise<T> {
    // Around the caches on purpose: an entry may be newer or older than the snapshot.
    return mapClientFaults(
      this.db.snapshot((q) =>
        fn({
          read: (resourceType, id) => readCurrent(q, resourceType, id),
          canSee: async (access, members) => members.length === 0 || (await decideMembers(q, access, members)).every((d) => d.visible),
          search: (request) => executeSearch(q, request),
        }),
      ),
    );
  }

  /** The bulk import's store: its write transactions and journal (src/import). */
  importStore(): ImportStore {
    return { kind: this.db.kind, journal: new SqlImportJournal(this.db), transaction: (fn) => this.bulkTransaction(fn) };
  }

  /** A write transaction whose tx also writes many resources at once (BulkWriteTx). */
  async bulkTransaction<T>(fn: (tx: BulkWriteTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const tx = { current: undefined as Tx | undefined };
        try {
          return await this.db.transaction((q) => fn((tx.current = new Tx(q, this.cache, this.changeChannel, this.maxIndexRows, this.accessCache))), { timeoutMs: this.writeTimeoutMs });
        } finally {
          for (const key of tx.current?.written ?? []) {
            this.cache?.delete(key);
            for (const w of this.watchers) w.onChange(key);
          }
          for (const member of tx.current?.accessChanged ?? []) this.accessCache?.invalidate(member);
        }
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has(sqlStateOf(err) ?? '')) throw asClientFault(err);
      }
    }
  }

  ping(timeoutMs?: number): Promise<void> {
    return this.db.ping(timeoutMs);
  }

  /** False while reads bypass the cache because its invalidation channel is down (PostgreSQL). */
  get cacheCoherent(): boolean {
    return this.cache?.enabled ?? true;
  }

  async close(): Promise<void> {
    this.fence?.stop();
    await this.listener?.close();
    await this.db.close();
  }
}

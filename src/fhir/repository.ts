import type { AccessFilter } from '../access/viewer.js';
import type { AuditRecord } from '../audit/types.js';
import type { FactQuery } from '../coordination/facts.js';
import type { SearchCursor, SearchRequest } from './search/types.js';

// What the FHIR interaction layer needs from storage. Defined here (no SQL) and implemented in
// src/storage/, so interaction logic and coordination rules can run inside one database transaction
// without knowing how rows are laid out.

/** A stored version: the served JSON text plus the few fields needed without parsing it. */
export interface StoredVersion {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string; // ISO instant
  deleted: boolean;
  /** JSON text exactly as served (undefined for a delete). */
  content?: string;
  /**
   * Patient ids whose compartment this version is in (a deletion: those of the version it deleted);
   * absent when in none. Who may see it depends on them (docs/adr/0008).
   */
  members?: readonly string[];
}

export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HistoryQuery {
  resourceType?: string;
  id?: string;
  since?: string; // ISO instant, inclusive
  at?: string; // not supported yet; rejected by the parser
  count: number;
  /** Opaque cursor: return only versions older than this (global sequence). */
  before?: number;
  /** Only versions this organization's client may see (undefined = all). */
  access?: AccessFilter;
}

export interface HistoryPage {
  versions: (StoredVersion & { method: WriteMethod })[];
  /** Cursor for the next (older) page, when there is one. */
  next?: number;
  total?: number;
}

/** One page of search results as stored JSON text (see src/storage/search for the paging scheme). */
export interface SearchPage {
  /** The page of matches, in order. Empty for _summary=count / _count=0. */
  matches: { resourceType: string; id: string; content: string }[];
  /** Resources added by _include/_revinclude (search mode 'include'), without duplicates of matches. */
  included: { resourceType: string; id: string; content: string }[];
  /** Per _total; with no _total given, exact when the whole result fits on the first page. */
  total?: number;
  totalIsEstimate?: boolean;
  /** Cursors for the next/previous links (encoded into _cursor). */
  next?: SearchCursor;
  previous?: SearchCursor;
  /** The cursor of this page (for the self link). */
  self: SearchCursor;
  /** True when _include/_revinclude stopped at the include limit. */
  includeTruncated: boolean;
}

/** Operations available inside a write transaction. */
export interface WriteTx {
  /** Reads the current state and locks it against concurrent writers until commit. */
  lockCurrent(resourceType: string, id: string): Promise<StoredVersion | undefined>;
  /** Serialises this transaction against others taking the same key (e.g. a conditional create's query). */
  lockKey(key: string): Promise<void>;
  /** Writes a new version (1 for a new resource). content undefined = delete tombstone. */
  writeVersion(v: StoredVersion, method: WriteMethod, resource?: Record<string, unknown>): Promise<void>;
  /** Ids of current resources matching a FHIR search query string (conditional interactions), of those access lets see. */
  findMatches(resourceType: string, query: URLSearchParams, access?: AccessFilter): Promise<string[]>;
  /** Whether the organization sees every one of these members now (uncached: sees this transaction's writes). */
  canSee(access: AccessFilter, members: readonly string[]): Promise<boolean>;
  read(resourceType: string, id: string): Promise<StoredVersion | undefined>;
  readVersion(resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined>;
  search(request: SearchRequest): Promise<SearchPage>;
  /**
   * Current resources whose reference search parameter (resourceType + code) points at target, as
   * stored JSON text: e.g. a member's CareTeams (subject), Consents (patient). Index-backed.
   */
  findReferencing(targetType: string, targetId: string, via: readonly { resourceType: string; code: string }[]): Promise<string[]>;
  /**
   * The member's current resources (JSON text, rid order) with a coordination fact matching any query
   * (src/coordination/facts.ts), from the projection written with every write. Index-backed.
   */
  findByFacts(memberId: string, queries: readonly FactQuery[]): Promise<string[]>;
  /** Stores AuditEvents (src/audit) in this transaction: they commit or roll back with the writes. */
  appendAuditEvents(records: readonly AuditRecord[]): Promise<void>;
}

/**
 * Reads that all see one consistent state of the store (Repository.snapshot): nothing committed after the
 * snapshot began shows in any of them, and everything committed before does. Uncached by design.
 */
export interface ReadSnapshot {
  read(resourceType: string, id: string): Promise<StoredVersion | undefined>;
  canSee(access: AccessFilter, members: readonly string[]): Promise<boolean>;
  search(request: SearchRequest): Promise<SearchPage>;
}

export interface Repository {
  /** signal aborts when the client went away: the search stops and rejects (StoreUnavailableError). */
  search(request: SearchRequest, options?: { signal?: AbortSignal }): Promise<SearchPage>;
  readonly kind: 'postgres' | 'pglite';
  read(resourceType: string, id: string): Promise<StoredVersion | undefined>;
  readVersion(resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined>;
  history(query: HistoryQuery): Promise<HistoryPage>;
  /**
   * Whether the organization sees every one of these members now (the contract's Access section): the
   * check behind reads by id, answered from a per-instance cache kept exact across instances.
   */
  canSee(access: AccessFilter, members: readonly string[]): Promise<boolean>;
  /**
   * Runs fn over one read-only snapshot (holding one connection until fn is done): for answers assembled
   * from several reads that must not mix states, such as a form read section by section.
   */
  snapshot<T>(fn: (reader: ReadSnapshot) => Promise<T>): Promise<T>;
  /** Runs fn in one transaction; retried on serialisation failures and unique-key races. */
  transaction<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T>;
  /** Answers (or fails) within about timeoutMs, even when every pooled connection is busy. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

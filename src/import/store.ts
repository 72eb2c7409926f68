// What the bulk import needs from storage (implemented in src/storage/import-store.ts and the
// repository's write transaction). No SQL here.
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { IndexColumns } from '../fhir/search/index-columns.js';
import type { StoredVersion, WriteTx } from '../fhir/repository.js';

/** One version of a batch: written exactly as WriteTx.writeVersion would write it. */
export interface BatchVersion {
  version: StoredVersion;
  /** The stored (stamped) resource the search index and coordination facts derive from. */
  resource: Record<string, unknown>;
  /** Index rows extracted beforehand as column fragments (indexColumnsOf), as a prepare worker sends them; extracted from `resource` when absent. */
  indexColumns?: IndexColumns;
  /** The `members` column (membersColumn of the resource) computed beforehand; derived when absent. */
  members?: string[] | null;
}

/** A write transaction that can also lock, read and write many resources in a few statements. */
export interface BulkWriteTx extends WriteTx {
  /** Transaction-scoped advisory locks, taken in the given order (same keys as WriteTx.lockKey). */
  lockKeys(keys: readonly string[]): Promise<void>;
  /** Current versions (deleted ones included) by `Type/id`, locked against concurrent writers. */
  lockCurrentMany(refs: readonly { resourceType: string; id: string }[]): Promise<Map<string, StoredVersion>>;
  /** Current versions (deleted ones included) by `Type/id`, not locked: WriteTx.read for many in one statement. */
  readCurrentMany(refs: readonly { resourceType: string; id: string }[]): Promise<Map<string, StoredVersion>>;
  /**
   * Per member id: the current resources referencing `Patient/<id>` through any of `via` (as
   * WriteTx.findReferencing, for many members in one statement), in rid order.
   */
  findReferencingMany(memberIds: readonly string[], via: readonly { resourceType: string; code: string }[]): Promise<Map<string, ReferencingResource[]>>;
  /**
   * Writes the versions (new ones and successors of the current one) with history, index, facts and access
   * rows. Resolves once they are sent, not written: the transaction commits only if they were, and its
   * later statements run after them (they see the rows).
   */
  writeVersions(versions: readonly BatchVersion[]): Promise<void>;
  /** Journals a batch of a file (its end offset, counts and rejected lines) in this transaction. */
  recordBatch(fileKey: string, batch: BatchCommit): Promise<void>;
}

/** A stored resource as findReferencingMany returns it: its JSON text, parsed only if a rule reads it. */
export interface ReferencingResource {
  resourceType: string;
  id: string;
  content: string;
}

export interface ImportFile {
  fileKey: string;
  name: string;
  resourceType: string;
  size: number;
}

export interface FileProgress {
  committedOffset: number;
  committedLines: number;
  written: number;
  unchanged: number;
  rejected: number;
  completed: boolean;
}

/** A rejected line as the journal keeps it. */
export interface LineError {
  line: number;
  resourceType?: string;
  id?: string;
  ruleId?: string;
  conflicting?: string[];
  outcome: OperationOutcome;
}

/** Counts of one committed batch and where it ends. */
export interface BatchCommit {
  endOffset: number;
  endLine: number;
  written: number;
  unchanged: number;
  errors: LineError[];
}

export interface ImportJournal {
  /** The file's progress so far, registering it when new. */
  begin(file: ImportFile): Promise<FileProgress>;
  /** Marks a file complete that had nothing left to write (e.g. empty). */
  complete(fileKey: string): Promise<void>;
  /** Rejected lines of the file, in line order. */
  errors(fileKey: string): Promise<LineError[]>;
}

export interface ImportStore {
  readonly kind: 'postgres' | 'pglite';
  readonly journal: ImportJournal;
  /** One write transaction (retried on serialisation failures, deadlocks and unique-key races). */
  transaction<T>(fn: (tx: BulkWriteTx) => Promise<T>): Promise<T>;
}

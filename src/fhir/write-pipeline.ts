// The checks every write passes before it is stored, in one place so create, update, patch, $validate
// and transaction entries all apply the same ones. Each stage is a pluggable function: base R4
// validation, Concord profile validation and the coordination rules (which read inside the transaction).
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { JsonSize } from './hostile-input.js';
import { FhirError } from './outcome.js';
import type { WriteTx } from './repository.js';
import type { PreparedIndex } from './search/prepared-index.js';

/** A write as the checks see it: the new state (absent for delete) and the state it replaces. */
export type { ProposedWrite } from '../coordination/index.js';
import type { ProposedWrite } from '../coordination/index.js';

/** Structural checks that need no database: base spec, bindings, profiles. */
export type ResourceValidator = (resource: unknown, expectedType: string) => OperationOutcomeIssue[];

/**
 * The structural checks of a large resource, run off the event loop (write-checks-pool.ts): the same
 * validation as ResourceValidator and, when `index` is asked for, the search index rows. Answers
 * undefined when the resource is small enough to be checked inline.
 */
export interface OffloadedChecks {
  run(
    resource: unknown,
    expectedType: string,
    size: JsonSize,
    index: boolean,
  ): Promise<{ issues: OperationOutcomeIssue[]; index?: PreparedIndex }> | undefined;
}

/** An issue from the transactional checks, with the written resource (Type/id) it was found on. */
export interface CheckedIssue {
  issue: OperationOutcomeIssue;
  resource?: string;
  /** `Type/id` of every resource the finding involves (the refused writes and what they collided with). */
  involves?: readonly string[];
}

/** A write refused by the transactional checks; `resources` parallels `issues` (for Bundle entry mapping). */
export class RuleViolationError extends FhirError {
  constructor(
    status: number,
    readonly checked: CheckedIssue[],
  ) {
    super(status, checked.map((c) => c.issue));
    this.name = 'RuleViolationError';
  }
}

/** When a write's request arrived, and what this process knows of when other writes committed. */
export interface Arrival {
  /** Epoch ms at which the server received the request (fastify's request start). */
  readonly at: number;
  /** See CommitLog.committedSince: undefined when this process did not write that version. */
  committedSince(key: string, lastUpdated: string): boolean | undefined;
}

/**
 * Current versions of resources read inside a write transaction, by `Type/id` (undefined: none, or
 * deleted). Only valid while the transaction writes nothing more: the final checks fill it after the
 * transaction's last write, and the write hooks that run right after them (the subscription events'
 * filter values: a lead's PractitionerRole) read from it instead of reading the same rows again.
 */
export type TransactionReads = Map<string, Promise<Resource | undefined>>;

/** The current version of type/id read in tx, once per `reads` map: a second ask shares the first read. */
export function readThrough(tx: WriteTx, reads: TransactionReads, resourceType: string, id: string): Promise<Resource | undefined> {
  const key = `${resourceType}/${id}`;
  let hit = reads.get(key);
  if (!hit) {
    hit = tx.read(resourceType, id).then((v) => (v?.content && !v.deleted ? (JSON.parse(v.content) as Resource) : undefined));
    reads.set(key, hit);
  }
  return hit;
}

/** Checks that read other resources inside the write transaction (coordination rules). */
export interface TransactionalChecker {
  /** Locks what the checks depend on (e.g. per-member locks) so concurrent writes serialise. */
  lock(tx: WriteTx, writes: ProposedWrite[]): Promise<void>;
  /**
   * arrival: when the request arrived, to tell a lost race (409) from a rule break (422). reads: where
   * the check keeps the referenced resources it reads (see TransactionReads); its own map when absent.
   */
  check(tx: WriteTx, writes: ProposedWrite[], arrival?: Arrival, reads?: TransactionReads): Promise<CheckedIssue[]>;
}

export const noTransactionalChecks: TransactionalChecker = {
  lock: () => Promise.resolve(),
  check: () => Promise.resolve([]),
};

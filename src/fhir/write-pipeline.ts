// The checks every write passes before it is stored, in one place so create, update, patch, $validate
// and transaction entries all apply the same ones. Each stage is a pluggable function: base R4
// validation, Concord profile validation and the coordination rules (which read inside the transaction).
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { WriteTx } from './repository.js';

/** A write as the checks see it: the new state (absent for delete) and the state it replaces. */
export type { ProposedWrite } from '../coordination/index.js';
import type { ProposedWrite } from '../coordination/index.js';

/** Structural checks that need no database: base spec, bindings, profiles. */
export type ResourceValidator = (resource: unknown, expectedType: string) => OperationOutcomeIssue[];

/** Checks that read other resources inside the write transaction (coordination rules). */
export interface TransactionalChecker {
  /** Locks what the checks depend on (e.g. per-member locks) so concurrent writes serialise. */
  lock(tx: WriteTx, writes: ProposedWrite[]): Promise<void>;
  /** startedAt: when the request's transaction began, to tell a lost race (409) from a rule break (422). */
  check(tx: WriteTx, writes: ProposedWrite[], startedAt?: Date): Promise<OperationOutcomeIssue[]>;
}

export const noTransactionalChecks: TransactionalChecker = {
  lock: () => Promise.resolve(),
  check: () => Promise.resolve([]),
};

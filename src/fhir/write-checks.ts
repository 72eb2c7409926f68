// The CPU-heavy, database-free part of a write: structural validation (R4 base and the claimed Concord
// profiles) and, for a valid resource, its search index rows. One function so the inline path and the
// worker thread (write-checks-worker.ts) run exactly the same code.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { hasErrors } from './outcome.js';
import { prepareIndex, type PreparedIndex } from './search/prepared-index.js';
import { validateForWrite } from './validate-write.js';

export interface WriteCheckTask {
  resource: unknown;
  expectedType: string;
  /** Also extract the search index rows (writes); $validate needs only the issues. */
  index: boolean;
  maxIndexRows: number;
}

export interface WriteCheckResult {
  issues: OperationOutcomeIssue[];
  /** Present when index was asked for and the resource is valid. */
  index?: PreparedIndex;
}

export function runWriteChecks(task: WriteCheckTask): WriteCheckResult {
  const issues = validateForWrite(task.resource, task.expectedType);
  if (!task.index || hasErrors(issues)) return { issues };
  return { issues, index: prepareIndex(task.resource as Record<string, unknown>, task.maxIndexRows) };
}

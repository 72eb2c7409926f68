// Search index rows computed before the write transaction (on a worker thread, for large resources: see
// src/fhir/write-checks-pool.ts) and handed to the storage layer with the stored resource. The storage
// asks indexValuesFor(); without prepared rows it extracts them itself, as every small write does.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../outcome.js';
import { DEFAULT_MAX_INDEX_ROWS, extractIndexValues } from './extract.js';
import type { IndexRows } from './types.js';

/**
 * Extraction's outcome as plain data (it crosses threads): the rows, or the 422 refusal that extraction
 * raised (too many rows). The refusal is raised where extraction would have raised it, at the write,
 * so a conditional create that matches an existing resource still answers 200.
 */
export type PreparedIndex = { maxRows: number; rows: IndexRows } | { maxRows: number; refusal: { status: number; issues: OperationOutcomeIssue[] } };

const prepared = new WeakMap<object, PreparedIndex>();

/** Runs extraction now, keeping a refusal as data. Other errors are faults and propagate. */
export function prepareIndex(resource: Resource | Record<string, unknown>, maxRows: number = DEFAULT_MAX_INDEX_ROWS): PreparedIndex {
  try {
    return { maxRows, rows: extractIndexValues(resource, maxRows) };
  } catch (err) {
    if (err instanceof FhirError) return { maxRows, refusal: { status: err.status, issues: err.issues } };
    throw err;
  }
}

/**
 * Attaches prepared rows to the object that will be stored. They were computed on the validated resource,
 * before the server set id and meta.versionId/lastUpdated: the parameters on those (_id, _lastUpdated)
 * are served from the resource row and never indexed, so the rows are the same.
 */
export function attachIndex(stored: object, index: PreparedIndex): void {
  prepared.set(stored, index);
}

/** The index rows of `resource`: the prepared ones when computed with the same bound, else extracted now. */
export function indexValuesFor(resource: Resource | Record<string, unknown>, maxRows: number = DEFAULT_MAX_INDEX_ROWS): IndexRows {
  const p = prepared.get(resource);
  if (p === undefined || p.maxRows !== maxRows) return extractIndexValues(resource, maxRows);
  if ('refusal' in p) throw new FhirError(p.refusal.status, p.refusal.issues);
  return p.rows;
}

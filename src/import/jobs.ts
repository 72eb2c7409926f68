// The Bulk Data `$import` operation's jobs as the FHIR layer sees them (docs/adr/0019): what a kick-off
// asks for, what a job has done so far, and what storage must offer (src/storage/import-job-store.ts).
// No SQL and no HTTP here.
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { WriteTx } from '../fhir/repository.js';

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** One requested input: an NDJSON file of one resource type at a URL. */
export interface ImportInput {
  type: string;
  url: string;
}

/** What one input has done (counts over every run of its content, as the import journal keeps them). */
export interface JobFile {
  type: string;
  url: string;
  /** The content's SHA-256 (the import journal's key); set once the input was fetched and imported. */
  fileKey?: string;
  written: number;
  unchanged: number;
  rejected: number;
  lines: number;
}

export interface ImportJob {
  id: string;
  status: JobStatus;
  clientId?: string;
  requestUrl: string;
  inputSource?: string;
  inputs: ImportInput[];
  files: JobFile[];
  bytesDone: number;
  bytesTotal: number;
  written: number;
  unchanged: number;
  rejected: number;
  failure?: { status: number; outcome: OperationOutcome };
  cancelRequested: boolean;
  attempts: number;
  createdAt: string;
  completedAt?: string;
}

export interface NewJob {
  id: string;
  clientId?: string;
  requestUrl: string;
  inputSource?: string;
  inputs: ImportInput[];
}

export interface JobProgress {
  bytesDone: number;
  bytesTotal: number;
  written: number;
  unchanged: number;
  rejected: number;
}

/** What a running job learns when it reports progress or renews its lease. */
export interface LeaseState {
  /** False when another instance took the job over (this one's lease had expired). */
  held: boolean;
  cancelRequested: boolean;
}

/**
 * One claim of a job: who took it and which claim it was (the job's `attempts` after it). Every claim
 * changes `attempt`, so a runner that lost its lease and a later claim by the same instance never share it.
 */
export interface JobLease {
  id: string;
  owner: string;
  attempt: number;
}

export interface ImportJobStore {
  create(job: NewJob): Promise<void>;
  get(id: string): Promise<ImportJob | undefined>;
  /**
   * Takes one unfinished job whose lease is free or expired (oldest first) for `owner`, for `leaseMs`;
   * concurrent claims never take the same job. Unfinished jobs whose cancellation was asked and whose
   * lease is free are closed as cancelled on the way.
   */
  claim(owner: string, leaseMs: number): Promise<ImportJob | undefined>;
  /** Extends the lease and records progress, if `owner` still holds it. */
  progress(id: string, owner: string, leaseMs: number, progress?: JobProgress): Promise<LeaseState>;
  /**
   * The fence of a batch (docs/adr/0019): inside the batch's write transaction, whether `lease` is still
   * the job's lease and has not expired. When true the job stays locked until that transaction ends, so
   * no claim can take the job over between this check and the batch's COMMIT; when false the caller
   * must roll the batch back (another instance runs, or may now run, the job).
   */
  holdsLease(tx: WriteTx, lease: JobLease): Promise<boolean>;
  /** Closes the job if `owner` still holds it; false otherwise (nothing changed). */
  finish(id: string, owner: string, result: JobResult): Promise<boolean>;
  /**
   * Asks for cancellation (DELETE): a queued job, or one whose lease is free, is cancelled at once; a
   * running one stops after its current batch. 'unknown' when there is no such job or it was cancelled
   * already.
   */
  requestCancel(id: string): Promise<'accepted' | 'unknown'>;
}

export type JobResult =
  | { status: 'completed'; files: JobFile[]; progress: JobProgress }
  | { status: 'failed'; failure: { status: number; outcome: OperationOutcome }; progress?: JobProgress }
  | { status: 'cancelled'; progress?: JobProgress };

// SQL of the $import jobs (migrations/0012_import_jobs.sql, src/import/jobs.ts). One job runs on one
// instance at a time: a claim takes it with a lease (FOR UPDATE SKIP LOCKED, so concurrent claims never
// take the same row), the runner renews the lease with each progress report, and a lease that ran out
// (its instance died) lets any instance claim the job again.
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { WriteTx } from '../fhir/repository.js';
import type { ImportInput, ImportJob, ImportJobStore, JobFile, JobLease, JobProgress, JobResult, JobStatus, LeaseState, NewJob } from '../import/jobs.js';
import type { Database } from './database.js';
import { queryableOf } from './resource-repository.js';

interface JobRow {
  id: string;
  status: JobStatus;
  client_id: string | null;
  request_url: string;
  input_source: string | null;
  inputs: ImportInput[] | string;
  files: JobFile[] | string;
  bytes_done: string | number;
  bytes_total: string | number;
  written: number;
  unchanged: number;
  rejected: number;
  failure: string | null;
  failure_status: number | null;
  cancel_requested: boolean;
  attempts: number;
  created_ms: string | number;
  completed_ms: string | number | null;
}

const COLUMNS = `id, status, client_id, request_url, input_source, inputs, files, bytes_done, bytes_total, written, unchanged,
  rejected, failure, failure_status, cancel_requested, attempts, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
  (extract(epoch FROM completed_at) * 1000)::float8 AS completed_ms`;

/** jsonb arrives parsed from pg and as text from some drivers. */
const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

function jobOf(row: JobRow): ImportJob {
  return {
    id: row.id,
    status: row.status,
    ...(row.client_id ? { clientId: row.client_id } : {}),
    requestUrl: row.request_url,
    ...(row.input_source ? { inputSource: row.input_source } : {}),
    inputs: json(row.inputs),
    files: json(row.files),
    bytesDone: Number(row.bytes_done),
    bytesTotal: Number(row.bytes_total),
    written: row.written,
    unchanged: row.unchanged,
    rejected: row.rejected,
    ...(row.failure ? { failure: { status: row.failure_status ?? 500, outcome: JSON.parse(row.failure) as OperationOutcome } } : {}),
    cancelRequested: row.cancel_requested,
    attempts: row.attempts,
    createdAt: new Date(Number(row.created_ms)).toISOString(),
    ...(row.completed_ms !== null ? { completedAt: new Date(Number(row.completed_ms)).toISOString() } : {}),
  };
}

const OPEN = `status IN ('queued', 'running')`;
const LEASE_FREE = `(lease_until IS NULL OR lease_until < clock_timestamp())`;

export class SqlImportJobStore implements ImportJobStore {
  constructor(private readonly db: Database) {}

  async create(job: NewJob): Promise<void> {
    await this.db.query(
      `INSERT INTO import_job (id, client_id, request_url, input_source, inputs, files) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)`,
      [
        job.id,
        job.clientId ?? null,
        job.requestUrl,
        job.inputSource ?? null,
        JSON.stringify(job.inputs),
        JSON.stringify(job.inputs.map((i): JobFile => ({ type: i.type, url: i.url, written: 0, unchanged: 0, rejected: 0, lines: 0 }))),
      ],
    );
  }

  async get(id: string): Promise<ImportJob | undefined> {
    const res = await this.db.query<JobRow>(`SELECT ${COLUMNS} FROM import_job WHERE id = $1`, [id]);
    return res.rows[0] ? jobOf(res.rows[0]) : undefined;
  }

  async claim(owner: string, leaseMs: number): Promise<ImportJob | undefined> {
    // A cancelled job nobody runs any more (queued, or its runner died) is closed here.
    await this.db.query(
      `UPDATE import_job SET status = 'cancelled', completed_at = now(), updated_at = now(), lease_owner = NULL, lease_until = NULL
        WHERE ${OPEN} AND cancel_requested AND ${LEASE_FREE}`,
    );
    const res = await this.db.query<JobRow>(
      `UPDATE import_job SET status = 'running', lease_owner = $1, lease_until = clock_timestamp() + $2 * interval '1 millisecond',
              attempts = attempts + 1, updated_at = now()
        WHERE id = (SELECT id FROM import_job WHERE ${OPEN} AND NOT cancel_requested AND ${LEASE_FREE}
                     ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
          AND ${OPEN} AND ${LEASE_FREE}
       RETURNING ${COLUMNS}`,
      [owner, leaseMs],
    );
    return res.rows[0] ? jobOf(res.rows[0]) : undefined;
  }

  async progress(id: string, owner: string, leaseMs: number, p?: JobProgress): Promise<LeaseState> {
    const res = await this.db.query<{ cancel_requested: boolean }>(
      `UPDATE import_job SET lease_until = clock_timestamp() + $3 * interval '1 millisecond', updated_at = now(),
              bytes_done = coalesce($4, bytes_done), bytes_total = coalesce($5, bytes_total),
              written = coalesce($6, written), unchanged = coalesce($7, unchanged), rejected = coalesce($8, rejected)
        WHERE id = $1 AND lease_owner = $2 AND status = 'running'
       RETURNING cancel_requested`,
      [id, owner, leaseMs, p?.bytesDone ?? null, p?.bytesTotal ?? null, p?.written ?? null, p?.unchanged ?? null, p?.rejected ?? null],
    );
    const row = res.rows[0];
    return row ? { held: true, cancelRequested: row.cancel_requested } : { held: false, cancelRequested: false };
  }

  async holdsLease(tx: WriteTx, lease: JobLease): Promise<boolean> {
    // A row lock, not a plain read: it conflicts with a claim's FOR UPDATE (which skips the job) and holds
    // until the batch's transaction ends, so the job cannot change hands between this check and COMMIT.
    // A claim that committed first changed attempts (and the owner): then no row is found. The check is
    // the batch's last statement, so a heartbeat or cancellation waits for the lock about one round trip.
    const res = await queryableOf(tx).query(
      `SELECT 1 FROM import_job
        WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND status = 'running' AND lease_until > clock_timestamp()
          FOR NO KEY UPDATE`,
      [lease.id, lease.owner, lease.attempt],
    );
    return res.rows.length === 1;
  }

  async finish(id: string, owner: string, result: JobResult): Promise<boolean> {
    const p = result.progress;
    const res = await this.db.query(
      `UPDATE import_job SET status = $3, completed_at = now(), updated_at = now(), lease_owner = NULL, lease_until = NULL,
              files = coalesce($4::jsonb, files), failure = $5, failure_status = $6,
              bytes_done = coalesce($7, bytes_done), bytes_total = coalesce($8, bytes_total),
              written = coalesce($9, written), unchanged = coalesce($10, unchanged), rejected = coalesce($11, rejected)
        WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
      [
        id,
        owner,
        result.status,
        result.status === 'completed' ? JSON.stringify(result.files) : null,
        result.status === 'failed' ? JSON.stringify(result.failure.outcome) : null,
        result.status === 'failed' ? result.failure.status : null,
        p?.bytesDone ?? null,
        p?.bytesTotal ?? null,
        p?.written ?? null,
        p?.unchanged ?? null,
        p?.rejected ?? null,
      ],
    );
    return res.rowCount === 1;
  }

  async requestCancel(id: string): Promise<'accepted' | 'unknown'> {
    const res = await this.db.query(
      `UPDATE import_job SET cancel_requested = true, updated_at = now(),
              status = CASE WHEN ${OPEN} AND ${LEASE_FREE} THEN 'cancelled' ELSE status END,
              completed_at = CASE WHEN ${OPEN} AND ${LEASE_FREE} THEN now() ELSE completed_at END
        WHERE id = $1 AND NOT cancel_requested`,
      [id],
    );
    return res.rowCount === 1 ? 'accepted' : 'unknown';
  }
}

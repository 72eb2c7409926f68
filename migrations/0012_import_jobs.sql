-- Bulk Data $import jobs (src/import/jobs.ts, src/storage/import-job-store.ts, docs/adr/0019). A job is
-- durable from its kick-off: any instance may run it, one at a time, under a lease it renews while it
-- works. An instance that dies leaves its lease to expire and another (or the restarted one) takes the
-- job over; the import journal (0009) makes the re-run continue without storing a line twice.

CREATE TABLE import_job (
  id               text        PRIMARY KEY,
  status           text        NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  client_id        text,                           -- the administrative client that asked (none: auth off)
  request_url      text        NOT NULL,           -- the kick-off URL, echoed in the completion body
  input_source     text,
  inputs           jsonb       NOT NULL,           -- [{type, url}] as requested
  files            jsonb       NOT NULL DEFAULT '[]',  -- per input: fileKey, written, unchanged, rejected, lines
  bytes_done       bigint      NOT NULL DEFAULT 0,
  bytes_total      bigint      NOT NULL DEFAULT 0,
  written          integer     NOT NULL DEFAULT 0,
  unchanged        integer     NOT NULL DEFAULT 0,
  rejected         integer     NOT NULL DEFAULT 0,
  failure          text,                           -- why a failed job failed: an OperationOutcome as JSON text
  failure_status   integer,                        -- the HTTP status the status endpoint answers for it
  cancel_requested boolean     NOT NULL DEFAULT false,
  lease_owner      text,                           -- the instance running it
  lease_until      timestamptz,
  attempts         integer     NOT NULL DEFAULT 0, -- runs started (a re-run after a crash counts)
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz
);

-- What a polling instance looks for: unfinished jobs.
CREATE INDEX import_job_open ON import_job (created_at) WHERE status IN ('queued', 'running');

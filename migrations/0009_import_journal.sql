-- Bulk import journal (src/import, src/storage/import-store.ts). Each batch of an NDJSON file commits in
-- one transaction together with the file's committed byte offset here and the batch's rejected lines,
-- so a crashed import resumes exactly after the last committed batch: no line is stored twice and no
-- batch is half stored. A file is known by the SHA-256 of its content, whatever its name or path.

CREATE TABLE import_file (
  file_key         text        PRIMARY KEY,   -- hex SHA-256 of the file's bytes
  name             text        NOT NULL,      -- base name, for the report
  resource_type    text        NOT NULL,
  size             bigint      NOT NULL,
  committed_offset bigint      NOT NULL DEFAULT 0,  -- bytes of the file whose lines are committed
  committed_lines  integer     NOT NULL DEFAULT 0,
  written          integer     NOT NULL DEFAULT 0,  -- lines stored as a new version
  unchanged        integer     NOT NULL DEFAULT 0,  -- lines equal to the current version (nothing stored)
  rejected         integer     NOT NULL DEFAULT 0,
  started_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz
);

-- One row per rejected line: the OperationOutcome, and for a coordination rule conflict the rule id and
-- the stored (or earlier imported) resources it conflicts with.
CREATE TABLE import_error (
  file_key      text    NOT NULL REFERENCES import_file (file_key) ON DELETE CASCADE,
  line          integer NOT NULL,
  resource_type text,
  resource_id   text,
  rule_id       text,
  conflicting   text[],
  outcome       text    NOT NULL,  -- the OperationOutcome as JSON text (key order kept)
  PRIMARY KEY (file_key, line)
);

-- Resource storage: the current state of every resource plus its full version history.
-- Bodies are stored as the exact JSON text served to clients (meta.versionId/lastUpdated included),
-- so a read streams the stored text without re-serialising it.

CREATE TABLE resource (
  rid           bigserial   PRIMARY KEY,          -- internal surrogate key used by index tables
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  version_id    integer     NOT NULL,
  last_updated  timestamptz NOT NULL,
  deleted       boolean     NOT NULL DEFAULT false,
  content       text,                            -- NULL while deleted (tombstone)
  CONSTRAINT resource_type_id_key UNIQUE (resource_type, id),
  CONSTRAINT resource_tombstone_ck CHECK (deleted = (content IS NULL))
);

CREATE TABLE resource_version (
  seq           bigserial   PRIMARY KEY,          -- global change order: history paging, later the outbox
  rid           bigint      NOT NULL REFERENCES resource (rid),
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  version_id    integer     NOT NULL,
  last_updated  timestamptz NOT NULL,
  method        text        NOT NULL CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE')),
  content       text,                            -- NULL for a delete
  CONSTRAINT resource_version_rid_version_key UNIQUE (rid, version_id)
);

CREATE INDEX resource_version_type_seq_idx ON resource_version (resource_type, seq);
CREATE INDEX resource_version_last_updated_idx ON resource_version (last_updated, seq);
CREATE INDEX resource_version_type_last_updated_idx ON resource_version (resource_type, last_updated, seq);

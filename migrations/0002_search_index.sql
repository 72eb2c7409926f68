-- Search index: one table per search-parameter type, keyed by resource.rid. Rows are written by the
-- search layer (src/storage/search/write-index.ts) in the same transaction as the resource row and
-- replaced on every write; a deleted resource has none.
--
-- Every table has two access paths:
--   (resource_type, code, <value>, rid)  drives a search from the most selective predicate;
--   (rid, code)                          probes one resource's values (other predicates, _sort,
--                                         _include) and serves ON DELETE CASCADE.
-- Free-text style matches (:contains, :text) use pg_trgm GIN indexes. Extensions go to public so
-- that per-schema deployments (and the per-test schemas) share one installation.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- Searches without any predicate (`Patient?`) and the paging bound walk live rows by type in rid order.
CREATE INDEX resource_type_rid_live_idx ON resource (resource_type, rid) WHERE NOT deleted;
-- _lastUpdated predicates and _sort=_lastUpdated read resource.last_updated directly.
CREATE INDEX resource_type_last_updated_idx ON resource (resource_type, last_updated, rid) WHERE NOT deleted;

CREATE TABLE search_token (
  rid           bigint NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  resource_type text   NOT NULL,
  code          text   NOT NULL,
  system        text,
  value         text,
  text_norm     text               -- display/text, normalised, for :text
);
CREATE INDEX search_token_value_idx ON search_token (resource_type, code, value, system, rid);
CREATE INDEX search_token_system_idx ON search_token (resource_type, code, system, rid) WHERE system IS NOT NULL;
CREATE INDEX search_token_rid_idx ON search_token (rid, code);
CREATE INDEX search_token_text_idx ON search_token USING gin (text_norm gin_trgm_ops) WHERE text_norm IS NOT NULL;

CREATE TABLE search_string (
  rid           bigint NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  resource_type text   NOT NULL,
  code          text   NOT NULL,
  -- "C" collation so the btree serves the default starts-with match (LIKE 'abc%') and sorts stably.
  value_norm    text   COLLATE "C" NOT NULL,
  value_exact   text   NOT NULL
);
CREATE INDEX search_string_value_idx ON search_string (resource_type, code, value_norm, rid);
CREATE INDEX search_string_rid_idx ON search_string (rid, code);
CREATE INDEX search_string_trgm_idx ON search_string USING gin (value_norm gin_trgm_ops);

-- Dates as half-open instant ranges [low, high) at the precision written ('2020' = the whole year);
-- open Period ends are -infinity/infinity.
CREATE TABLE search_date (
  rid           bigint      NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  resource_type text        NOT NULL,
  code          text        NOT NULL,
  low           timestamptz NOT NULL,
  high          timestamptz NOT NULL
);
CREATE INDEX search_date_low_idx ON search_date (resource_type, code, low, rid);
CREATE INDEX search_date_high_idx ON search_date (resource_type, code, high, rid);
CREATE INDEX search_date_rid_idx ON search_date (rid, code);

CREATE TABLE search_number (
  rid           bigint  NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  resource_type text    NOT NULL,
  code          text    NOT NULL,
  low           numeric NOT NULL,
  high          numeric NOT NULL
);
CREATE INDEX search_number_low_idx ON search_number (resource_type, code, low, rid);
CREATE INDEX search_number_high_idx ON search_number (resource_type, code, high, rid);
CREATE INDEX search_number_rid_idx ON search_number (rid, code);

-- Quantities (and Range as [low, high]); unit_code is the coded unit, unit the display unit.
CREATE TABLE search_quantity (
  rid           bigint  NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  resource_type text    NOT NULL,
  code          text    NOT NULL,
  low           numeric NOT NULL,
  high          numeric NOT NULL,
  system        text,
  unit_code     text,
  unit          text
);
CREATE INDEX search_quantity_low_idx ON search_quantity (resource_type, code, low, rid);
CREATE INDEX search_quantity_high_idx ON search_quantity (resource_type, code, high, rid);
CREATE INDEX search_quantity_rid_idx ON search_quantity (rid, code);

-- References: target type/id for literal references (relative or absolute), url for absolute,
-- urn and canonical references, and the logical identifier for :identifier.
CREATE TABLE search_reference (
  rid               bigint NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  resource_type     text   NOT NULL,
  code              text   NOT NULL,
  target_type       text,
  target_id         text,
  url               text,
  identifier_system text,
  identifier_value  text
);
-- `patient=Patient/1`, _has and _revinclude (which also know resource_type and code).
CREATE INDEX search_reference_target_idx ON search_reference (resource_type, code, target_id, target_type, rid);
CREATE INDEX search_reference_url_idx ON search_reference (resource_type, code, url, rid) WHERE url IS NOT NULL;
CREATE INDEX search_reference_identifier_idx ON search_reference (resource_type, code, identifier_value, rid) WHERE identifier_value IS NOT NULL;
-- _include and probes.
CREATE INDEX search_reference_rid_idx ON search_reference (rid, code);

CREATE TABLE search_uri (
  rid           bigint NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  resource_type text   NOT NULL,
  code          text   NOT NULL,
  value         text   COLLATE "C" NOT NULL   -- "C": the btree also serves :below (LIKE 'http://x/%')
);
CREATE INDEX search_uri_value_idx ON search_uri (resource_type, code, value, rid);
CREATE INDEX search_uri_rid_idx ON search_uri (rid, code);

-- Two-component composites: component 1 is a token/reference/string (c1_system, c1_value); component 2
-- is a token/reference/string/uri (c2_system, c2_value), quantity (c2_low/high + c2_system/c2_value as
-- unit), number (c2_low/high) or date (c2_date_low/high).
CREATE TABLE search_composite (
  rid           bigint NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  resource_type text   NOT NULL,
  code          text   NOT NULL,
  c1_system     text,
  c1_value      text,
  c2_system     text,
  c2_value      text,
  c2_low        numeric,
  c2_high       numeric,
  c2_date_low   timestamptz,
  c2_date_high  timestamptz
);
CREATE INDEX search_composite_value_idx ON search_composite (resource_type, code, c1_value, c2_value, rid);
CREATE INDEX search_composite_rid_idx ON search_composite (rid, code);

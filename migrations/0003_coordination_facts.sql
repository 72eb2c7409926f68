-- Coordination facts: the projection of each CareTeam, ServiceRequest and CarePlan that tells which of a
-- member's stored resources can interact with a write (src/coordination/facts.ts derives the rows;
-- src/storage/coordination-facts.ts writes them in the same transaction as the resource, and deletes them
-- with it). The coordination rules load only the resources whose facts overlap what is written, so a
-- write's cost does not grow with the member's history (docs/adr/0005).
--
-- `during` is a half-open range of epoch milliseconds; NULL bounds are unbounded (no start = since
-- forever, no end = ongoing). The GiST index answers "this member's facts of this kind and key that
-- overlap this range" without walking the member's other facts (btree_gist supplies the text columns).

CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

CREATE TABLE coordination_fact (
  rid       bigint    NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  member_id text      NOT NULL,
  kind      text      NOT NULL,
  key       text      NOT NULL,
  org       text,
  during    int8range NOT NULL CHECK (NOT isempty(during))
);

CREATE INDEX coordination_fact_rid_idx ON coordination_fact (rid);
CREATE INDEX coordination_fact_overlap_idx ON coordination_fact USING gist (member_id, kind, key, during);

-- The version of the fact derivation (facts.ts FACTS_VERSION) the rows were built with. 0 = never built:
-- the server rebuilds the projection from the stored resources at startup when this is behind.
CREATE TABLE coordination_fact_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version   integer NOT NULL
);
INSERT INTO coordination_fact_state (version) VALUES (0);

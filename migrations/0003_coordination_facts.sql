-- Coordination facts: the projection of each CareTeam, ServiceRequest and CarePlan that tells which of a
-- member's stored resources can interact with a write (src/coordination/facts.ts derives the rows;
-- src/storage/coordination-facts.ts writes them in the same transaction as the resource, and deletes them
-- with it). The coordination rules load only the resources whose facts overlap what is written, so a
-- write's cost does not grow with the member's history (docs/adr/0005).
--
-- `during` is a half-open range of epoch milliseconds; NULL bounds are unbounded (no start = since
-- forever, no end = ongoing).

CREATE TABLE coordination_fact (
  rid       bigint    NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  member_id text      NOT NULL,
  kind      text      NOT NULL,
  key       text      NOT NULL,
  org       text,
  during    int8range NOT NULL CHECK (NOT isempty(during))
);

CREATE INDEX coordination_fact_rid_idx ON coordination_fact (rid);
-- "This member's facts of this kind and key that overlap [lo, hi)": the index range skips every fact that
-- ended before lo (a member's history), the rest is filtered by `during && [lo, hi)`. A btree, not a
-- GiST over (member_id, kind, key, during): measured here, a GiST row insert costs ~45 us against ~7 us
-- (docs/adr/0005), and every team/order write inserts facts while history that has not ended yet is
-- what a write must look at anyway.
CREATE INDEX coordination_fact_member_end_idx ON coordination_fact (member_id, kind, key, (COALESCE(upper(during), 9223372036854775807)));

-- The version of the fact derivation (facts.ts FACTS_VERSION) the rows were built with. 0 = never built:
-- the server rebuilds the projection from the stored resources at startup when this is behind.
CREATE TABLE coordination_fact_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version   integer NOT NULL
);
INSERT INTO coordination_fact_state (version) VALUES (0);

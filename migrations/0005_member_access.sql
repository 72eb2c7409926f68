-- Organization-scoped access (docs/adr/0008). Two projections, written in the same transaction as every
-- resource version (src/storage/member-access.ts) and rebuilt from the stored resources at startup when
-- their derivation changes (access_state):
--
-- * `members`: the Patient ids whose compartment (R4 CompartmentDefinition/patient) a version belongs
--   to; NULL = in no member's compartment (Organization, Practitioner, conformance resources...). A
--   deletion keeps the members of the version it deletes. A search adds one predicate over it.
-- * `member_access`: who has a relationship with a member, and when: one row per (source resource,
--   member, actor). `actor` is `Organization/<id>` or `PractitionerRole/<id>` (whose organization is
--   read at query time); `deny` rows are opt-outs. `during` is a half-open range of epoch milliseconds,
--   NULL bounds unbounded (as in coordination_fact).

ALTER TABLE resource ADD COLUMN members text[];
ALTER TABLE resource_version ADD COLUMN members text[];

CREATE TABLE member_access (
  rid       bigint    NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
  member_id text      NOT NULL,
  actor     text      NOT NULL,
  deny      boolean   NOT NULL,
  during    int8range NOT NULL CHECK (NOT isempty(during))
);
CREATE INDEX member_access_rid_idx ON member_access (rid);
CREATE INDEX member_access_member_idx ON member_access (member_id, actor, deny);

CREATE TABLE access_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version   integer NOT NULL
);
INSERT INTO access_state (version) VALUES (0);

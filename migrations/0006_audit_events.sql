-- The audit trail (src/audit/, ADR 0009): one row per FHIR AuditEvent. The AuditEvent JSON is kept whole;
-- the columns beside it are what the AuditEvent search reads. Rows are only ever inserted: a trigger
-- refuses UPDATE, DELETE and TRUNCATE, so neither the API nor a stray statement can rewrite the trail.
CREATE TABLE audit_event (
  seq          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id           text        NOT NULL UNIQUE,
  recorded     timestamptz NOT NULL,
  type_code    text        NOT NULL,
  subtype      text        NOT NULL,
  action       text        NOT NULL,
  outcome      text        NOT NULL,
  client_id    text,
  organization text,
  -- entity.what references (Type/id, no version) and the members (Patient/id) the event concerns.
  entity_refs  text[]      NOT NULL DEFAULT '{}',
  patient_refs text[]      NOT NULL DEFAULT '{}',
  content      text        NOT NULL
);
CREATE INDEX audit_event_recorded_idx ON audit_event (recorded, seq);
CREATE INDEX audit_event_client_idx ON audit_event (client_id, recorded);
CREATE INDEX audit_event_organization_idx ON audit_event (organization, recorded);
CREATE INDEX audit_event_entity_idx ON audit_event USING gin (entity_refs);
CREATE INDEX audit_event_patient_idx ON audit_event USING gin (patient_refs);

CREATE FUNCTION audit_event_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'AuditEvents are immutable: % refused', TG_OP USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION audit_event_immutable();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_immutable();

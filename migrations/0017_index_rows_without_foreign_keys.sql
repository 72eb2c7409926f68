-- The search index tables lose their foreign keys to resource (docs/adr/0024). Every index row is
-- written by the statement that writes its resource row, with the rid that statement returned
-- (src/storage/version-write.ts, src/storage/import-store.ts), and removed by the statement that
-- replaces or deletes that version; resource rows are never physically deleted, so ON DELETE CASCADE
-- never fired. The constraint therefore only re-checked, per index row, what the statement had just
-- produced: ~480 µs of PostgreSQL CPU per Patient create (34 rows) in bench/create-pg-cpu.ts. The
-- invariant it guarded (no index row without its current, live resource row) is kept by the storage
-- layer and tested in test/storage/index-invariant.test.ts. resource_version, member_access and
-- coordination_fact keep their foreign keys.
ALTER TABLE search_token DROP CONSTRAINT IF EXISTS search_token_rid_fkey;
ALTER TABLE search_string DROP CONSTRAINT IF EXISTS search_string_rid_fkey;
ALTER TABLE search_date DROP CONSTRAINT IF EXISTS search_date_rid_fkey;
ALTER TABLE search_number DROP CONSTRAINT IF EXISTS search_number_rid_fkey;
ALTER TABLE search_quantity DROP CONSTRAINT IF EXISTS search_quantity_rid_fkey;
ALTER TABLE search_reference DROP CONSTRAINT IF EXISTS search_reference_rid_fkey;
ALTER TABLE search_uri DROP CONSTRAINT IF EXISTS search_uri_rid_fkey;
ALTER TABLE search_composite DROP CONSTRAINT IF EXISTS search_composite_rid_fkey;

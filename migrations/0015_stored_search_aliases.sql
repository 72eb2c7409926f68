-- Index rows stored once for parameters that repeat another (docs/adr/0022). A search parameter whose
-- type and expression equal another parameter's on the same resource type yields exactly that parameter's
-- rows; they are now written once, under the alphabetically first code, and searches on the other code
-- read them there (src/fhir/search/parameters.ts storedAs / storedCode). In R4 these are Patient, Person,
-- Practitioner and RelatedPerson `phonetic` (= `name`), CapabilityStatement `version` (= `fhirversion`)
-- and CodeSystem `url` (= `system`). Rows written under the alias codes by earlier versions are never
-- read again: removed here so that a migrated store holds the same index as a fresh one.
DELETE FROM search_string WHERE code = 'phonetic' AND resource_type IN ('Patient', 'Person', 'Practitioner', 'RelatedPerson');
DELETE FROM search_token WHERE code = 'version' AND resource_type = 'CapabilityStatement';
DELETE FROM search_uri WHERE code = 'url' AND resource_type = 'CodeSystem';

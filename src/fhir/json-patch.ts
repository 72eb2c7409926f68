// JSON Patch (RFC 6902) for FHIR PATCH, via fast-json-patch. Invalid or failing operations are client
// errors (422 per R4 http.html#patch), never server faults.
import jsonpatch from 'fast-json-patch';
import { FhirError, issue } from './outcome.js';

type JsonObject = Record<string, unknown>;

export function applyJsonPatch(document: JsonObject, operations: unknown): JsonObject {
  if (!Array.isArray(operations)) {
    throw new FhirError(400, issue('invalid', 'A JSON Patch body must be an array of operations'));
  }
  const error = jsonpatch.validate(operations as jsonpatch.Operation[], document);
  if (error) {
    throw new FhirError(422, issue('processing', `JSON Patch operation ${error.index ?? '?'} failed: ${error.name.replace(/_/g, ' ').toLowerCase()}`));
  }
  try {
    // mutateDocument=true: the caller passes a fresh parse of the stored text (never the stored version
    // itself), and fast-json-patch's own copy (JSON round trip) would lose the LosslessNumbers in it.
    const result = jsonpatch.applyPatch(document, operations as jsonpatch.Operation[], true, true).newDocument;
    return result;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : 'patch failed';
    throw new FhirError(422, issue('processing', `JSON Patch could not be applied: ${msg}`));
  }
}

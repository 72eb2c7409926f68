// JSON Patch (RFC 6902) for FHIR PATCH, via fast-json-patch. Invalid or failing operations are client
// errors (422 per R4 http.html#patch), never server faults.
import jsonpatch from 'fast-json-patch';
import { assertJsonHasNoNul } from './hostile-input.js';
import { FhirError, issue } from './outcome.js';

type JsonObject = Record<string, unknown>;

// No FHIR element has these names, and walking a path through them reaches Object.prototype (or the
// Object constructor) instead of the document: prototype pollution. fast-json-patch bans only some of
// these spellings, and with a TypeError that used to surface as a 500.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** Pointer segments, unescaped per RFC 6901 (~1 is '/', ~0 is '~'). */
function segments(pointer: string): string[] {
  return pointer.split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function assertSafePaths(operations: unknown[]): void {
  operations.forEach((op, index) => {
    if (typeof op !== 'object' || op === null) return; // fast-json-patch's validation reports the shape
    for (const field of ['path', 'from'] as const) {
      const pointer = (op as Record<string, unknown>)[field];
      if (typeof pointer !== 'string') continue;
      if (segments(pointer).some((s) => FORBIDDEN_SEGMENTS.has(s))) {
        throw new FhirError(400, issue('invalid', `JSON Patch operation ${index}: ${field} may not pass through __proto__, constructor or prototype`));
      }
    }
  });
}

export function applyJsonPatch(document: JsonObject, operations: unknown): JsonObject {
  if (!Array.isArray(operations)) {
    throw new FhirError(400, issue('invalid', 'A JSON Patch body must be an array of operations'));
  }
  assertSafePaths(operations);
  assertJsonHasNoNul(operations, 'The JSON Patch');
  let error: jsonpatch.JsonPatchError | undefined;
  try {
    error = jsonpatch.validate(operations as jsonpatch.Operation[], document);
  } catch (err) {
    // validate rethrows anything but its own JsonPatchError (e.g. a TypeError on a malformed operation).
    const msg = err instanceof Error ? err.message.split('\n')[0] : 'invalid operation';
    throw new FhirError(400, issue('invalid', `JSON Patch is not valid: ${msg}`));
  }
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

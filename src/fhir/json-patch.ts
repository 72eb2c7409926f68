// JSON Patch (RFC 6902) for FHIR PATCH, via fast-json-patch. Invalid or failing operations are client
// errors (422 per R4 http.html#patch), never server faults.
import jsonpatch from 'fast-json-patch';
import { isDeepStrictEqual } from 'node:util';
import { assertJsonHasNoNul } from './hostile-input.js';
import { parseStored, stringifyLossless } from './number-text.js';
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

/** A deep copy that keeps exact number texts (fast-json-patch's own copy is a JSON round trip). */
function losslessClone(value: unknown): unknown {
  return value === undefined ? undefined : parseStored(stringifyLossless(value));
}

/** The value with every number as a plain JavaScript number: RFC 6902 `test` compares numbers by value. */
function byValue(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(stringifyLossless(value));
}

function failed(index: number, what: string): FhirError {
  return new FhirError(422, issue('processing', `JSON Patch operation ${index} failed: ${what}`));
}

/**
 * Applies the operations one by one to `document`, which is a fresh lossless parse of the stored text
 * (parseStored) and is changed in place. `copy` and `test` are done here rather than by fast-json-patch:
 * its copy is a JSON round trip that would turn a kept number text into a plain object, and its test would
 * then compare `1.50` and `1.5` as different values.
 */
export function applyJsonPatch(document: JsonObject, operations: unknown): JsonObject {
  if (!Array.isArray(operations)) {
    throw new FhirError(400, issue('invalid', 'A JSON Patch body must be an array of operations'));
  }
  assertSafePaths(operations);
  assertJsonHasNoNul(operations, 'The JSON Patch');
  let error: jsonpatch.JsonPatchError | undefined;
  try {
    // Shape only (no document): the operations are checked against the document as they are applied.
    error = jsonpatch.validate(operations as jsonpatch.Operation[]);
  } catch (err) {
    // validate rethrows anything but its own JsonPatchError (e.g. a TypeError on a malformed operation).
    const msg = err instanceof Error ? err.message.split('\n')[0] : 'invalid operation';
    throw new FhirError(400, issue('invalid', `JSON Patch is not valid: ${msg}`));
  }
  if (error) throw failed(error.index ?? 0, error.name.replace(/_/g, ' ').toLowerCase());
  let doc: JsonObject = document;
  for (const [index, raw] of (operations as jsonpatch.Operation[]).entries()) {
    let op = raw;
    try {
      if (op.op === 'test') {
        if (!isDeepStrictEqual(byValue(jsonpatch.getValueByPointer(doc, op.path)), byValue(op.value))) throw failed(index, 'test operation failed');
        continue;
      }
      if (op.op === 'copy') {
        const value: unknown = jsonpatch.getValueByPointer(doc, op.from);
        if (value === undefined) throw failed(index, 'operation from unresolvable');
        op = { op: 'add', path: op.path, value: losslessClone(value) };
      }
      doc = jsonpatch.applyOperation(doc, op, true, true, true, index).newDocument;
    } catch (err) {
      if (err instanceof FhirError) throw err;
      if (err instanceof jsonpatch.JsonPatchError) throw failed(index, err.name.replace(/_/g, ' ').toLowerCase());
      const msg = err instanceof Error ? err.message.split('\n')[0] : 'patch failed';
      throw new FhirError(422, issue('processing', `JSON Patch could not be applied: ${msg}`));
    }
  }
  return doc;
}

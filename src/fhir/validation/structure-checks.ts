// Structural rules that medplum 4.5.2's validator lets through (each verified against it; see the tests):
// complex elements given as strings/numbers, keys that collide with Object.prototype names (medplum looks
// properties up with `in`), malformed primitive extensions, more than one type for a choice element
// (medplum only warns), Resource.id format (medplum types it as string), references to resource types the
// element does not allow (medplum only warns), narrative that is not an XHTML div, unknown nested resource
// types (medplum aborts without an expression), and dom-3, which medplum skips.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { isResourceType } from '../definitions.js';
import { issue } from '../outcome.js';
import { findUnreferencedContained } from './contained-references.js';
import type { JsonObject } from './resource-walker.js';
import { isJsonObject } from './resource-walker.js';
import type { SchemaProperty } from './schema-properties.js';
import { isPrimitiveTypeCode } from './schema-properties.js';

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';
const XHTML_DIV = /^\s*<div(\s[^>]*)?>/;
const XHTML_NS = /\sxmlns\s*=\s*(["'])http:\/\/www\.w3\.org\/1999\/xhtml\1/;

type Issues = OperationOutcomeIssue[];

function err(issues: Issues, code: OperationOutcomeIssue['code'], msg: string, path: string): void {
  issues.push(issue(code, msg, { expression: [path] }));
}

/**
 * The structure checks, one function per walk hook, each appending to `issues` (validate-resource.ts calls
 * them from its one visitor, in a fixed order, rather than through per-call closures).
 */
export const structureChecks = {
  value(issues: Issues, prop: SchemaProperty, value: unknown, path: string): void {
    if (value === null || value === undefined) return; // medplum reports nulls
    if (!isPrimitiveTypeCode(prop.typeCode)) {
      if (!isJsonObject(value)) err(issues, 'structure', `Expected a JSON object for ${prop.typeCode}, found ${jsonKind(value)}`, path);
      else if (prop.typeCode === 'Reference') checkReferenceTarget(issues, prop, value, path);
    } else if (prop.typeCode === 'xhtml' && typeof value === 'string') {
      if (!XHTML_DIV.test(value) || !XHTML_NS.test(value.slice(0, value.indexOf('>') + 1))) {
        err(issues, 'invariant', 'Narrative must be an XHTML <div> with xmlns="http://www.w3.org/1999/xhtml"', path);
      }
    }
  },
  unknownKey(issues: Issues, key: string, path: string): void {
    // Other unknown keys are reported by medplum; these slip past its `key in elements` test.
    const name = key.startsWith('_') ? key.slice(1) : key;
    if (key in Object.prototype || name in Object.prototype) err(issues, 'structure', `Unknown property "${key}"`, path);
  },
  primitiveExtension(issues: Issues, key: string, value: unknown, path: string): void {
    const ok = Array.isArray(value) ? value.every((v) => v === null || isJsonObject(v)) : isJsonObject(value);
    if (!ok) err(issues, 'structure', `"${key}" must be an object (or an array of objects and nulls) holding id/extension`, path);
  },
  duplicateChoice(issues: Issues, elementPath: string, keys: string[]): void {
    err(issues, 'structure', `Only one type is allowed for ${elementPath}, found ${keys.join(', ')}`, elementPath);
  },
  unknownResource(issues: Issues, value: JsonObject, path: string): void {
    const rt = value['resourceType'];
    err(issues, 'invalid', typeof rt === 'string' ? `Unknown resource type '${rt}'` : 'Nested resource has no resourceType', path);
  },
  object(issues: Issues, obj: JsonObject, path: string, resourceType: string | undefined): void {
    if (resourceType === undefined) return;
    const id = obj['id'];
    if (typeof id === 'string' && id !== '' && !ID.test(id)) {
      err(issues, 'structure', `Invalid id '${id}': 1-64 characters from A-Z, a-z, 0-9, '-' and '.'`, `${path}.id`);
    }
    for (const { index, reason } of findUnreferencedContained(obj)) {
      err(issues, 'invariant', `Constraint dom-3 not met: ${reason}`, `${path}.contained[${index}]`);
    }
  },
};

function jsonKind(value: unknown): string {
  return Array.isArray(value) ? 'an array' : typeof value;
}

function checkReferenceTarget(issues: Issues, prop: SchemaProperty, ref: JsonObject, path: string): void {
  const reference = ref['reference'];
  if (typeof reference !== 'string') return;
  const targetType = referencedType(reference);
  if (!targetType || !isResourceType(targetType)) return;
  const targets = prop.element.type.find((t) => t.code === 'Reference')?.targetProfile;
  if (!targets?.length) return;
  const allowed: string[] = [];
  for (const t of targets) {
    // A profile url or a non-HL7 target cannot be judged from the reference alone.
    if (!t.startsWith(HL7_SD)) return;
    const name = t.slice(HL7_SD.length);
    if (name === 'Resource' || name === targetType) return;
    if (!isResourceType(name)) return;
    allowed.push(name);
  }
  err(issues, 'structure', `Reference to ${targetType} is not allowed here; expected ${allowed.join(', ')}`, path);
}

/** The resource type named by a relative, absolute or conditional reference; undefined for '#x', urn: etc. */
function referencedType(reference: string): string | undefined {
  const q = reference.indexOf('?');
  if (q > 0) return /^[A-Z][A-Za-z]+$/.test(reference.slice(0, q)) ? reference.slice(0, q) : undefined;
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(reference);
  return m?.[1];
}

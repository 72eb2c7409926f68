// Walks a resource's JSON alongside its medplum type schema, descending into backbone elements, complex
// datatypes and nested resources (contained, Bundle.entry.resource, Parameters.parameter.resource).
// Extensions are walked with the base Extension schema: value[x] is unbound there (an extension's value is only
// bound if its own definition says so), but the datatypes it carries keep their bindings (Quantity.comparator).
// The walk tolerates malformed input (it runs even when the structural validator has found errors).
import type { InternalTypeSchema } from '@medplum/core';
import { tryGetDataType } from '@medplum/core';
import { isResourceType } from '../definitions.js';
import type { SchemaProperty } from './schema-properties.js';
import { isPrimitiveTypeCode, schemaProperties } from './schema-properties.js';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface WalkVisitor {
  /** Each value of a known element (arrays are visited item by item); `path` is a FHIRPath expression. */
  value?(prop: SchemaProperty, value: unknown, path: string): void;
  /** Each object walked, after its properties. `resourceType` is set when the object is a resource. */
  object?(obj: JsonObject, schema: InternalTypeSchema, path: string, resourceType: string | undefined): void;
  /** A key with no element in the schema (medplum reports most of these itself). */
  unknownKey?(key: string, value: unknown, path: string): void;
  /** A `_name` key carrying the id/extensions of primitive element `name`. */
  primitiveExtension?(key: string, value: unknown, path: string): void;
  /** More than one JSON property for the same choice element. */
  duplicateChoice?(elementPath: string, keys: string[]): void;
  /** A nested resource whose resourceType is missing or not a concrete R4 type; it is not descended into. */
  unknownResource?(value: JsonObject, path: string): void;
  /** Elements a profile constrains below a complex type, under dotted keys; values found by navigation. */
  dotted?(key: string, prop: SchemaProperty, value: unknown, path: string): void;
}

type InnerTypes = ReadonlyMap<string, InternalTypeSchema>;
const NO_INNER_TYPES: InnerTypes = new Map();

/**
 * Walks `resource` as an instance of `schema`. For a profile schema, its backbone types (innerTypes) are used
 * for the resource's own backbone elements, while nested resources are walked with their base schemas.
 */
export function walkResource(resource: JsonObject, schema: InternalTypeSchema, path: string, visitor: WalkVisitor): void {
  const inner = schema.innerTypes.length > 0 ? new Map(schema.innerTypes.map((t) => [t.name, t])) : NO_INNER_TYPES;
  walkObject(resource, schema, path, visitor, inner, resource['resourceType'] as string | undefined);
}

function walkObject(
  obj: JsonObject,
  schema: InternalTypeSchema,
  path: string,
  visitor: WalkVisitor,
  inner: InnerTypes,
  resourceType: string | undefined,
): void {
  const { byJsonName, dotted } = schemaProperties(schema);
  let choices: Map<string, string[]> | undefined;
  for (const key of Object.keys(obj)) {
    if (key === 'resourceType' && resourceType !== undefined) continue;
    const isPrimitiveExtension = key.startsWith('_');
    const prop = byJsonName.get(isPrimitiveExtension ? key.slice(1) : key);
    const value = obj[key];
    if (!prop) {
      visitor.unknownKey?.(key, value, `${path}.${key}`);
      continue;
    }
    const propPath = prop.choiceBase ? `${path}.${prop.choiceBase}.ofType(${prop.typeCode})` : `${path}.${key}`;
    if (isPrimitiveExtension) {
      visitor.primitiveExtension?.(key, value, `${path}.${key}`);
      walkPrimitiveExtension(value, `${path}.${key.slice(1)}`, visitor);
      continue;
    }
    if (prop.choiceBase) {
      choices ??= new Map();
      const keys = choices.get(prop.elementName);
      if (keys) keys.push(key);
      else choices.set(prop.elementName, [key]);
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visitValue(prop, value[i], `${propPath}[${i}]`, visitor, inner);
    } else {
      visitValue(prop, value, propPath, visitor, inner);
    }
  }
  if (choices) {
    for (const [elementName, keys] of choices) if (keys.length > 1) visitor.duplicateChoice?.(`${path}.${elementName}`, keys);
  }
  if (visitor.dotted) {
    for (const [key, element] of dotted) visitDotted(obj, key, element, path, visitor);
  }
  visitor.object?.(obj, schema, path, resourceType);
}

/** `_given: [null, {extension: [...]}]` holds the id/extensions of primitive values; FHIRPath sees them on the value. */
function walkPrimitiveExtension(value: unknown, path: string, visitor: WalkVisitor): void {
  const element = tryGetDataType('Element');
  if (!element) return;
  if (isJsonObject(value)) walkObject(value, element, path, visitor, NO_INNER_TYPES, undefined);
  else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (isJsonObject(v)) walkObject(v, element, `${path}[${i}]`, visitor, NO_INNER_TYPES, undefined);
    });
  }
}

function visitValue(prop: SchemaProperty, value: unknown, path: string, visitor: WalkVisitor, inner: InnerTypes): void {
  visitor.value?.(prop, value, path);
  const typeCode = prop.typeCode;
  if (isPrimitiveTypeCode(typeCode) || !isJsonObject(value)) return;
  if (typeCode === 'Resource') {
    const rt = value['resourceType'];
    const nested = typeof rt === 'string' && isResourceType(rt) ? tryGetDataType(rt) : undefined;
    if (nested) walkObject(value, nested, path, visitor, NO_INNER_TYPES, rt as string);
    else visitor.unknownResource?.(value, path);
    return;
  }
  const schema = inner.get(typeCode) ?? tryGetDataType(typeCode);
  if (schema) walkObject(value, schema, path, visitor, inner, undefined);
}

function visitDotted(obj: JsonObject, key: string, element: SchemaProperty['element'], path: string, visitor: WalkVisitor): void {
  const segments = key.split('.');
  let current: { value: unknown; path: string }[] = [{ value: obj, path }];
  for (let s = 0; s < segments.length; s++) {
    const segment = segments[s] as string;
    const last = s === segments.length - 1;
    const next: { value: unknown; path: string }[] = [];
    for (const { value, path: p } of current) {
      if (!isJsonObject(value)) continue;
      for (const [jsonKey, typeCode] of matchingKeys(value, segment, last ? element.type.map((t) => t.code) : undefined)) {
        const v = value[jsonKey];
        const base = segment.endsWith('[x]') ? `${p}.${segment.slice(0, -3)}.ofType(${typeCode})` : `${p}.${segment}`;
        if (Array.isArray(v)) v.forEach((item, i) => next.push({ value: item, path: `${base}[${i}]` }));
        else next.push({ value: v, path: base });
        if (last) {
          const prop: SchemaProperty = { elementName: key, element, typeCode };
          for (const item of next.splice(0)) visitor.dotted?.(key, prop, item.value, item.path);
        }
      }
    }
    current = next;
  }
}

/** JSON keys of `obj` holding element `segment`; for choice elements one per type present. */
function matchingKeys(obj: JsonObject, segment: string, types: string[] | undefined): [string, string][] {
  if (!segment.endsWith('[x]')) return Object.hasOwn(obj, segment) ? [[segment, types?.[0] ?? '']] : [];
  const base = segment.slice(0, -3);
  const out: [string, string][] = [];
  for (const k of Object.keys(obj)) {
    if (!k.startsWith(base) || k.length === base.length) continue;
    const suffix = k.slice(base.length);
    const typeCode = types?.find((t) => t.toLowerCase() === suffix.toLowerCase()) ?? suffix;
    if (/^[A-Z]/.test(suffix)) out.push([k, typeCode]);
  }
  return out;
}

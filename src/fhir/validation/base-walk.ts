// The base validation's one walk of a resource: the schema walk of resource-walker.ts (its visitor gets the same
// calls, in the same order, with the same paths) and, in the same pass, medplum's fast path
// (medplum-fast-path.ts): whether @medplum/core's validator would find no error. The two were separate walks
// of the same JSON against the same schemas, each looking up every key in its own per-schema table; here
// one lookup serves both, and the fast path's verdict is computed only while it is still true. Its FHIRPath
// invariants are collected on the way and evaluated after the walk (see Pending), as before.
//
// The verdict is exactly medplumWouldAccept's: where the fast path would descend into a schema that the
// schema walk does not (it never happens with the R4 base schemas, but nothing here relies on it), the
// fast path's own objectOk is run on that value. test/unit/validation/base-walk.test.ts compares the
// verdicts over every official example, the fixtures and mutants of them.
import type { InternalSchemaElement, InternalTypeSchema, TypedValue } from '@medplum/core';
import { tryGetDataType } from '@medplum/core';
import { isResourceType } from '../definitions.js';
import type { Plan, Slot, Walk } from './medplum-fast-path.js';
import { invariantsHold, isEmptyValue, JS_TYPES, medplumWouldAccept, objectOk, planOf, primitiveOk } from './medplum-fast-path.js';
import type { JsonObject, WalkVisitor } from './resource-walker.js';
import { isJsonObject } from './resource-walker.js';
import type { SchemaProperty } from './schema-properties.js';
import { isPrimitiveTypeCode, schemaProperties } from './schema-properties.js';

/** The hooks the base validation uses (resource-walker.ts's, all of them present, no profile `dotted`). */
export type BaseWalkVisitor = Required<Omit<WalkVisitor, 'dotted'>>;

/** One JSON key of a schema: the schema walk's property and the fast path's slot (absent: it refuses the key). */
interface Entry {
  readonly prop: SchemaProperty;
  readonly slot: Slot | undefined;
}
interface Table {
  readonly entries: ReadonlyMap<string, Entry>;
  readonly plan: Plan;
}
const tables = new WeakMap<InternalTypeSchema, Table>();

function tableOf(schema: InternalTypeSchema): Table {
  let table = tables.get(schema);
  if (!table) {
    const plan = planOf(schema);
    const entries = new Map<string, Entry>();
    for (const [key, prop] of schemaProperties(schema).byJsonName) entries.set(key, { prop, slot: plan.slots.get(key) });
    table = { entries, plan };
    tables.set(schema, table);
  }
  return table;
}

/**
 * An invariant check (or, where the walks part, a fast-path descent) found during the walk and run after it: the
 * FHIRPath engine writes into some malformed inputs (medplum merges a `_x` array into an object value), and
 * before this walk the fast path ran only after the schema walk and the JSON-shape check had seen the input.
 * `top` is the innermost resource at that point (%resource).
 */
interface Pending {
  readonly invariants: Slot['invariants'];
  readonly typed: TypedValue;
  readonly top: TypedValue;
  /** Set for a fast-path descent the schema walk does not share: objectOk of `typed.value` with this schema. */
  readonly descend?: { schema: InternalTypeSchema; slot: Slot };
}

/** The walk's state: the fast path's structural verdict so far, its resource stack, and what it left for later. */
interface State extends Walk {
  ok: boolean;
  readonly pending: Pending[];
  /** Whether a `_x` key was seen: only then can FHIRPath evaluation write into the input. */
  underscore: boolean;
}

/** The outcome of the one walk: call medplumAccepts() where the fast path used to run. */
export interface BaseWalk {
  /** medplumWouldAccept's answer for the walked resource. */
  medplumAccepts(): boolean;
}

type InnerTypes = ReadonlyMap<string, InternalTypeSchema>;
const NO_INNER_TYPES: InnerTypes = new Map();

/**
 * Walks `resource` (a resource of a concrete R4 type, whose base schema is `schema`) with `visitor`, and answers
 * whether medplum's validator would accept it (medplumWouldAccept's answer).
 */
export function walkBase(resource: JsonObject, schema: InternalTypeSchema, path: string, visitor: BaseWalkVisitor): BaseWalk {
  const type = resource['resourceType'] as string;
  const root: TypedValue = { type, value: resource };
  const state: State = { ok: tryGetDataType(type) === schema, root, resources: [root], pending: [], underscore: false };
  const rootInvariants = planOf(schema).rootInvariants;
  if (rootInvariants.length > 0) state.pending.push({ invariants: rootInvariants, typed: root, top: root });
  const inner = schema.innerTypes.length > 0 ? new Map(schema.innerTypes.map((t) => [t.name, t])) : NO_INNER_TYPES;
  walkObject(resource, schema, path, visitor, inner, type, state, true);
  return { medplumAccepts: () => medplumAccepts(state, resource) };
}

function medplumAccepts(state: State, resource: JsonObject): boolean {
  if (state.ok) return pendingHold(state);
  // Refused on structure. The fast path walked alone would have evaluated the invariants it met before that
  // point, and where the input has a `_x` key, medplum's FHIRPath engine merges it into the value it
  // navigates (an array `_x` becomes keys "0", "1" of an object `x`), which medplum's validator, run next,
  // then reports. So that the issues stay what they were, such an input is walked by the fast path as before
  // (a refused resource runs medplum's whole validator anyway; this adds little to it).
  if (state.underscore) medplumWouldAccept(resource);
  return false;
}

/**
 * The invariants (and unshared descents) in the fast path's order, once its structural checks all passed: then
 * no object of the resource has a `_x` key, so no evaluation writes into it.
 */
function pendingHold(state: State): boolean {
  for (const p of state.pending) {
    const walk: Walk = { root: state.root, resources: [p.top] };
    if (p.descend) {
      if (!fastObjectOk(walk, p.typed.value as JsonObject, p.descend.schema, p.descend.slot, p.typed)) return false;
    } else if (!invariantsSafe(walk, p.invariants, p.typed)) return false;
  }
  return true;
}

/** `fast`: whether the fast path checks this object (false once it has failed, or for what it does not walk). */
function walkObject(
  obj: JsonObject,
  schema: InternalTypeSchema,
  path: string,
  visitor: BaseWalkVisitor,
  inner: InnerTypes,
  resourceType: string | undefined,
  state: State,
  fast: boolean,
): void {
  const { entries, plan } = tableOf(schema);
  // medplum reads properties through the prototype chain; only plain (parsed) objects are modelled.
  if (fast && state.ok && (!plan.modelled || Object.getPrototypeOf(obj) !== Object.prototype)) state.ok = false;
  let choices: Map<string, string[]> | undefined;
  let fastChoices: Set<InternalSchemaElement> | undefined;
  for (const key of Object.keys(obj)) {
    if (key === 'resourceType') {
      if (resourceType !== undefined) continue;
      // An element of that name (ExampleScenario.instance.resourceType): medplum's fast path leaves it to medplum.
      if (fast) state.ok = false;
    }
    const isPrimitiveExtension = key.charCodeAt(0) === 95; // '_'
    if (isPrimitiveExtension) state.underscore = true;
    const entry = entries.get(isPrimitiveExtension ? key.slice(1) : key);
    const value = obj[key];
    if (!entry) {
      if (fast) state.ok = false;
      visitor.unknownKey(key, value, `${path}.${key}`);
      continue;
    }
    if (isPrimitiveExtension) {
      if (fast) state.ok = false; // the fast path does not model `_x`
      visitor.primitiveExtension(key, value, `${path}.${key}`);
      walkPrimitiveExtension(value, `${path}.${key.slice(1)}`, visitor, state);
      continue;
    }
    const prop = entry.prop;
    const propPath = prop.choiceBase ? `${path}.${prop.choiceBase}.ofType(${prop.typeCode})` : `${path}.${key}`;
    if (prop.choiceBase) {
      choices ??= new Map();
      const keys = choices.get(prop.elementName);
      if (keys) keys.push(key);
      else choices.set(prop.elementName, [key]);
    }
    let slot = fast && state.ok ? entry.slot : undefined;
    if (fast && state.ok) {
      if (!slot) state.ok = false;
      else if (slot.choice) {
        fastChoices ??= new Set();
        if (fastChoices.has(slot.element)) state.ok = false;
        else fastChoices.add(slot.element);
      }
      if (slot && state.ok && !propertyShapeOk(slot.element, value)) state.ok = false;
      if (!state.ok) slot = undefined;
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visitValue(prop, value[i], `${propPath}[${i}]`, visitor, inner, state, slot);
    } else {
      visitValue(prop, value, propPath, visitor, inner, state, slot);
    }
  }
  if (choices) {
    for (const [elementName, keys] of choices) if (keys.length > 1) visitor.duplicateChoice(`${path}.${elementName}`, keys);
  }
  if (fast && state.ok) {
    for (const { min, keys } of plan.required) {
      if (min > 0 && !keys.some((k) => obj[k] !== undefined)) {
        state.ok = false;
        break;
      }
    }
  }
  visitor.object(obj, schema, path, resourceType);
}

/** The fast path's propertyOk before its items: no null or empty value, array-ness and cardinality. */
function propertyShapeOk(element: InternalSchemaElement, raw: unknown): boolean {
  if (raw === null || raw === undefined || isEmptyValue(raw)) return false;
  if (Array.isArray(raw)) return element.isArray === true && raw.length >= element.min && raw.length <= element.max;
  return !element.isArray && element.min <= 1 && element.max >= 1;
}

/** The primitive-extension walk of resource-walker.ts; the fast path has already refused such a key. */
function walkPrimitiveExtension(value: unknown, path: string, visitor: BaseWalkVisitor, state: State): void {
  const element = tryGetDataType('Element');
  if (!element) return;
  if (isJsonObject(value)) walkObject(value, element, path, visitor, NO_INNER_TYPES, undefined, state, false);
  else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (isJsonObject(v)) walkObject(v, element, `${path}[${i}]`, visitor, NO_INNER_TYPES, undefined, state, false);
    });
  }
}

/**
 * One value of a known element. `slot` is set while the fast path still holds: then medplum's valueOk runs on
 * it here, and the schema walk's descent carries the fast path along when both descend into the same schema.
 */
function visitValue(prop: SchemaProperty, value: unknown, path: string, visitor: BaseWalkVisitor, inner: InnerTypes, state: State, slot: Slot | undefined): void {
  visitor.value(prop, value, path);
  // The fast path's valueOk up to its descent: a nested object of schema `fastSchema` still to check.
  let fastSchema: InternalTypeSchema | undefined;
  let typed: TypedValue | undefined;
  if (slot && state.ok) {
    const checked = fastValue(state, slot, value);
    if (checked === false) state.ok = false;
    else if (checked !== true) ({ schema: fastSchema, typed } = checked);
  }
  const typeCode = prop.typeCode;
  let walkSchema: InternalTypeSchema | undefined;
  let nestedType: string | undefined;
  if (!isPrimitiveTypeCode(typeCode) && isJsonObject(value)) {
    if (typeCode === 'Resource') {
      const rt = value['resourceType'];
      walkSchema = typeof rt === 'string' && isResourceType(rt) ? tryGetDataType(rt) : undefined;
      if (!walkSchema) {
        visitor.unknownResource(value, path);
        if (fastSchema && state.ok) defer(state, value, fastSchema, slot as Slot, typed as TypedValue);
        return;
      }
      nestedType = rt as string;
    } else {
      walkSchema = inner.get(typeCode) ?? tryGetDataType(typeCode);
    }
  }
  const nestedFast = slot?.typeCode === 'Resource';
  const shared = fastSchema !== undefined && state.ok && fastSchema === walkSchema && nestedFast === (nestedType !== undefined);
  if (fastSchema && state.ok && !shared) defer(state, value as JsonObject, fastSchema, slot as Slot, typed as TypedValue);
  if (!walkSchema) return;
  if (shared && nestedFast) state.resources.push(typed as TypedValue);
  try {
    walkObject(value as JsonObject, walkSchema, path, visitor, nestedType ? NO_INNER_TYPES : inner, nestedType, state, shared);
  } finally {
    if (shared && nestedFast) state.resources.pop();
  }
}

/**
 * medplum-fast-path.ts's valueOk before it descends: false (refused), true (accepted, nothing to descend into),
 * or the schema of the object still to check and the typed value its invariants saw.
 */
function fastValue(state: State, slot: Slot, value: unknown): boolean | { schema: InternalTypeSchema; typed: TypedValue } {
  if (value === null || value === undefined) return false;
  let type = slot.typeCode;
  const isObject = typeof value === 'object' && !Array.isArray(value);
  if (type === 'Resource') {
    const rt = isObject ? (value as JsonObject)['resourceType'] : undefined;
    if (typeof rt !== 'string' || !isResourceType(rt)) return false;
    type = rt;
  }
  const typed: TypedValue = { type, value };
  if (slot.invariants.length > 0) state.pending.push({ invariants: slot.invariants, typed, top: state.resources[state.resources.length - 1] as TypedValue });
  const jsType = JS_TYPES[type];
  if (jsType !== undefined || type === 'undefined') return primitiveOk(type, jsType, value);
  if (!isObject || Object.keys(value).length === 0) return false;
  const schema = tryGetDataType(type);
  return schema ? { schema, typed } : false;
}

/** A value the schema walk does not descend into with the fast path's schema: checked by objectOk, later. */
function defer(state: State, value: JsonObject, schema: InternalTypeSchema, slot: Slot, typed: TypedValue): void {
  state.pending.push({ invariants: [], typed, top: state.resources[state.resources.length - 1] as TypedValue, descend: { schema, slot } });
}

/** The fast path's own descent (medplum-fast-path.ts's valueOk after its invariants). */
function fastObjectOk(walk: Walk, value: JsonObject, schema: InternalTypeSchema, slot: Slot, typed: TypedValue): boolean {
  const nested = slot.typeCode === 'Resource';
  if (nested) walk.resources.push(typed);
  try {
    return objectOk(walk, value, schema, nested);
  } catch {
    return false; // medplumWouldAccept answers false when its walk throws
  } finally {
    if (nested) walk.resources.pop();
  }
}

function invariantsSafe(walk: Walk, invariants: Slot['invariants'], value: TypedValue): boolean {
  try {
    return invariantsHold(walk, invariants, value);
  } catch {
    return false;
  }
}

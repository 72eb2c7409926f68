// A fast proof that @medplum/core's validator would find no error in a resource, so the write path can skip
// running it (it was ~55 % of the per-resource CPU of a write or an imported line: its crawler visits every
// element of every type schema, present or not, resolving each through string-built choice names).
//
// This walk visits only the keys present, with per-schema lookup tables built once, and mirrors what
// medplum's ResourceValidator (typeschema/validation.ts in @medplum/core 4.5) reports as an error:
// nulls, unknown properties, array-ness and cardinality, empty values, JSON types, primitive formats and
// number ranges, and the FHIRPath invariants of every element (evaluated by medplum's own engine, with the
// same variables, from ASTs parsed once; the four that run on nearly every resource are read off the JSON
// keys, see SHORTCUTS). It answers true only when every check passes; anything it does not model (primitive extensions `_x`, fixed/pattern values, slicing, dotted element keys, resourceType on a
// non-resource, duplicate choice keys, a failing or throwing invariant) answers false, and the caller runs
// medplum's validator as before. So an invalid resource always gets medplum's own issues; the fast path
// only ever replaces an empty list by an empty list. test/unit/validation/medplum-fast-path.test.ts checks
// that claim over every official R4 example, the Concord fixtures and mutated (invalid) variants of them.
import type { InternalSchemaElement, InternalTypeSchema, TypedValue, FhirPathAtom } from '@medplum/core';
import { fhirTypeToJsType, parseFhirPath, toTypedValue, tryGetDataType, UCUM, validationRegexes } from '@medplum/core';
import { isResourceType } from '../definitions.js';
import { upperFirst } from './schema-properties.js';

type Json = Record<string, unknown>;

/** Constraint keys medplum's validator skips (skippedConstraintKeys in its validation.ts). */
const SKIPPED_CONSTRAINTS = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);
const MAX_STRING = 1024 * 1024;
const JS_TYPES = fhirTypeToJsType as Record<string, 'string' | 'number' | 'boolean' | undefined>;
const UCUM_VALUE = toTypedValue(UCUM);

interface Slot {
  element: InternalSchemaElement;
  /** The resolved type of a value under this JSON key (choice keys name their type). */
  typeCode: string;
  /** A schema element name shared by several JSON keys (a choice): at most one may be present. */
  choice: boolean;
  invariants: Invariant[];
}

interface Plan {
  /** False when the schema uses something this walk does not model. */
  modelled: boolean;
  slots: Map<string, Slot>;
  /** Required elements, each with the JSON keys that can carry it. */
  required: { min: number; keys: string[] }[];
  /** Invariants on the type itself (checked by medplum for the root resource only). */
  rootInvariants: Invariant[];
}

const plans = new WeakMap<InternalTypeSchema, Plan>();

/**
 * An invariant: its AST, parsed once, and for the few that run on nearly every resource a presence test
 * that gives FHIRPath's answer from the JSON keys. A shortcut may answer undefined (evaluate the AST). Its
 * answer only has to be right when the rest of the walk passes, i.e. every key of the value is a known
 * element holding a non-empty value (otherwise the walk answers false whatever the invariant said).
 */
interface Invariant {
  ast: FhirPathAtom;
  shortcut?: (value: unknown) => boolean | undefined;
}

const hasKey = (v: unknown, key: string): boolean => typeof v === 'object' && v !== null && Object.hasOwn(v, key);
/** dom-2, dom-4, dom-5 on a resource: every `contained.…empty()` term is true when there is no contained. */
const noContained = (v: unknown): boolean | undefined => (hasKey(v, 'contained') ? undefined : true);
const SHORTCUTS: Record<string, (value: unknown) => boolean | undefined> = {
  'contained.contained.empty()': noContained,
  'contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()': noContained,
  'contained.meta.security.empty()': noContained,
  // ext-1 on an Extension: its value[x] keys are the only keys that start with `value`.
  'extension.exists() != value.exists()': (v) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? hasKey(v, 'extension') !== Object.keys(v).some((k) => k.length > 5 && k.startsWith('value')) : undefined,
};

/**
 * Whether element `name` is present, or undefined when a key could carry it some other way (`_name`, a
 * choice `nameX`): FHIRPath then decides. Present means non-empty here, as the shortcuts' contract says.
 */
function present(v: unknown, name: string): boolean | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  for (const key of Object.keys(v)) if (key !== name && (key.startsWith(name) || key.startsWith(`_${name}`))) return undefined;
  return Object.hasOwn(v, name);
}

const PRESENCE = /^(\(?)([a-z][A-Za-z]*)\.(exists|empty)\(\) (or|and) ([a-z][A-Za-z]*)\.(exists|empty)\(\)(\)\.not\(\))?$/;

/**
 * Invariants that only combine two elements' presence (`a.empty() or b.empty()`, `a.exists() or b.exists()`,
 * `(a.exists() and b.exists()).not()`: cpl-3, prr-1, ppc-1, qrs-1, ...), answered from the keys.
 */
function presenceShortcut(expression: string): ((value: unknown) => boolean | undefined) | undefined {
  const m = PRESENCE.exec(expression);
  if (!m) return undefined;
  const [, open, a, testA, op, b, testB, not] = m as unknown as [string, string, string, string, string, string, string, string | undefined];
  if (Boolean(open) !== Boolean(not)) return undefined;
  return (value) => {
    const hasA = present(value, a);
    const hasB = present(value, b);
    if (hasA === undefined || hasB === undefined) return undefined;
    const left = testA === 'exists' ? hasA : !hasA;
    const right = testB === 'exists' ? hasB : !hasB;
    const both = op === 'or' ? left || right : left && right;
    return not ? !both : both;
  };
}

/**
 * `a.exists() or x.coding.where(system='s' and code='c').exists().not()` (ppc-2 to ppc-5 on a Consent): true
 * when `a` is present. medplum evaluates both sides of `or`, but once the walk passes the right side is one
 * boolean (Coding.system and Coding.code are single primitives) and cannot throw, so `true or it` is true.
 */
const PRESENT_OR_NO_CODING = /^([a-z][A-Za-z]*)\.exists\(\) or [a-z][A-Za-z.]*\.coding\.where\(system='[^']*' and code='[^']*'\)\.exists\(\)\.not\(\)$/;

function presentOrShortcut(expression: string): ((value: unknown) => boolean | undefined) | undefined {
  const name = PRESENT_OR_NO_CODING.exec(expression)?.[1];
  if (!name) return undefined;
  return (value) => (present(value, name) === true ? true : undefined);
}

const invariantCache = new Map<string, Invariant>();

function invariant(expression: string): Invariant {
  let inv = invariantCache.get(expression);
  if (!inv) {
    const shortcut = SHORTCUTS[expression] ?? presenceShortcut(expression) ?? presentOrShortcut(expression);
    invariantCache.set(expression, (inv = { ast: parseFhirPath(expression), ...(shortcut ? { shortcut } : {}) }));
  }
  return inv;
}

function invariantsOf(constraints: InternalSchemaElement['constraints']): Invariant[] {
  return (constraints ?? []).filter((c) => c.severity === 'error' && !SKIPPED_CONSTRAINTS.has(c.key)).map((c) => invariant(c.expression));
}

function planOf(schema: InternalTypeSchema): Plan {
  let plan = plans.get(schema);
  if (plan) return plan;
  plan = { modelled: true, slots: new Map(), required: [], rootInvariants: invariantsOf(schema.constraints) };
  for (const [name, element] of Object.entries(schema.elements)) {
    const types = element.type ?? [];
    const lastSegment = element.path.slice(element.path.lastIndexOf('.') + 1);
    if (lastSegment !== name || name.includes('.') || element.pattern !== undefined || element.fixed !== undefined || element.slicing || types.length === 0) {
      plan.modelled = false;
      continue;
    }
    const invariants = invariantsOf(element.constraints);
    const keys: string[] = [];
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      for (const t of types) keys.push(`${base}${upperFirst(t.code)}`);
    } else {
      keys.push(name);
    }
    const choice = keys.length > 1 || name.endsWith('[x]');
    keys.forEach((key, i) => {
      // medplum picks the first type (in the element's order) whose key is present.
      let typeCode = name.endsWith('[x]') ? (types[i]?.code ?? '') : (types[0]?.code ?? '');
      if (typeCode === 'Element' || typeCode === 'BackboneElement') typeCode = types[0]?.code ?? typeCode;
      if (plan.slots.has(key)) plan.modelled = false;
      plan.slots.set(key, { element, typeCode, choice, invariants });
    });
    if (element.min > 0) plan.required.push({ min: element.min, keys });
  }
  plans.set(schema, plan);
  return plan;
}

interface Walk {
  root: TypedValue;
  resources: TypedValue[];
}

/** True only if medplum's validateResource would report no error for `resource` (see the header). */
export function medplumWouldAccept(resource: Json): boolean {
  const type = resource['resourceType'];
  if (typeof type !== 'string' || !isResourceType(type)) return false;
  const schema = tryGetDataType(type);
  if (!schema) return false;
  const root: TypedValue = { type, value: resource };
  const walk: Walk = { root, resources: [root] };
  try {
    if (!invariantsHold(walk, planOf(schema).rootInvariants, root)) return false;
    return objectOk(walk, resource, schema, true);
  } catch {
    return false;
  }
}

function objectOk(walk: Walk, obj: Json, schema: InternalTypeSchema, isResource: boolean): boolean {
  const plan = planOf(schema);
  if (!plan.modelled) return false;
  // medplum reads properties through the prototype chain; JSON parsing only makes plain objects, so anything
  // else (an object built in code with inherited properties) is left to medplum rather than modelled here.
  if (Object.getPrototypeOf(obj) !== Object.prototype) return false;
  const choices = new Set<InternalSchemaElement>();
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) return false;
    if (key === 'resourceType') {
      if (!isResource) return false;
      continue;
    }
    const slot = plan.slots.get(key);
    if (!slot) return false;
    if (slot.choice) {
      if (choices.has(slot.element)) return false;
      choices.add(slot.element);
    }
    if (!propertyOk(walk, slot, obj[key])) return false;
  }
  for (const { min, keys } of plan.required) {
    if (min > 0 && !keys.some((k) => obj[k] !== undefined)) return false;
  }
  return true;
}

function propertyOk(walk: Walk, slot: Slot, raw: unknown): boolean {
  const { element } = slot;
  if (raw === null || raw === undefined || isEmptyValue(raw)) return false;
  if (Array.isArray(raw)) {
    if (!element.isArray || raw.length < element.min || raw.length > element.max) return false;
    for (const item of raw) if (!valueOk(walk, slot, item)) return false;
    return true;
  }
  if (element.isArray || element.min > 1 || element.max < 1) return false;
  return valueOk(walk, slot, raw);
}

/** medplum's isEmpty: '', an array without items, an object without keys. */
function isEmptyValue(v: unknown): boolean {
  if (typeof v === 'string') return v === '';
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
  return false;
}

function valueOk(walk: Walk, slot: Slot, value: unknown): boolean {
  if (value === null || value === undefined) return false;
  let type = slot.typeCode;
  const isObject = typeof value === 'object' && !Array.isArray(value);
  if (type === 'Resource') {
    const rt = isObject ? (value as Json)['resourceType'] : undefined;
    if (typeof rt !== 'string' || !isResourceType(rt)) return false;
    type = rt;
  }
  const typed: TypedValue = { type, value };
  if (!invariantsHold(walk, slot.invariants, typed)) return false;
  const jsType = JS_TYPES[type];
  if (jsType !== undefined || type === 'undefined') return primitiveOk(type, jsType, value);
  if (!isObject || Object.keys(value).length === 0) return false;
  const schema = tryGetDataType(type);
  if (!schema) return false;
  const nested = slot.typeCode === 'Resource';
  if (nested) walk.resources.push(typed);
  try {
    return objectOk(walk, value as Json, schema, nested);
  } finally {
    if (nested) walk.resources.pop();
  }
}

function primitiveOk(type: string, jsType: 'string' | 'number' | 'boolean' | undefined, value: unknown): boolean {
  if (jsType === undefined || typeof value !== jsType) return false;
  if (jsType === 'string') {
    const s = value as string;
    if (!s.trim() || s.length > MAX_STRING) return false;
    const regex = validationRegexes[type];
    return !regex || regex.exec(s) !== null;
  }
  if (jsType === 'number') {
    const n = value as number;
    if (!Number.isFinite(n)) return false;
    if ((type === 'integer' || type === 'positiveInt' || type === 'unsignedInt') && !Number.isInteger(n)) return false;
    if (type === 'positiveInt' && n <= 0) return false;
    if (type === 'unsignedInt' && n < 0) return false;
  }
  return true;
}

function invariantsHold(walk: Walk, invariants: Invariant[], value: TypedValue): boolean {
  let variables: Record<string, TypedValue> | undefined;
  for (const inv of invariants) {
    const quick = inv.shortcut?.(value.value);
    if (quick !== undefined) {
      if (!quick) return false;
      continue;
    }
    variables ??= {
      '%context': value,
      '%ucum': UCUM_VALUE,
      '%resource': walk.resources[walk.resources.length - 1] as TypedValue,
      '%rootResource': walk.root,
    };
    const result = inv.ast.eval({ variables }, [value]);
    const v: unknown = result[0]?.value;
    if (result.length !== 1 || (v as { valueOf(): unknown } | null | undefined)?.valueOf() !== true) return false;
  }
  return true;
}

// Validates a resource against a Concord profile by walking the profile's compiled snapshot.
//
// Why not medplum's validateResource(resource, { profile })? In @medplum/core 4.5.2 it re-parses the
// StructureDefinition on every call, and its crawler validates nested values against the BASE datatype
// schemas: CareTeam.participant.member / period.start, sub-extension cardinalities, extension value types
// and slices below the root are all ignored, and extension slices typed by profile never match (it reads
// the url from the slice's own `url` child). So this walker checks what the profile adds to R4:
//   - cardinality the profile tightened (min above / max below the base), at any depth;
//   - slices (extension slices by url, pattern slices) and their cardinalities;
//   - choice types narrowed by the profile (e.g. an extension's value[x]);
//   - Reference targets, from the reference string (or Reference.type) where that names a type;
//   - fixed and pattern values;
//   - required bindings to Concord ValueSets;
//   - the FHIRPath invariants Concord added (constraint.source is a Concord URL);
//   - Concord extensions, recursively against their own StructureDefinitions.
// Base R4 validation (unknown properties, primitive formats, base invariants and bindings) is NOT repeated
// here: run it as well (src/fhir/validation). Every issue is an error with a FHIRPath `expression`.
import type { ElementDefinition, ElementDefinitionType, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { issue } from '../outcome.js';
import type { CompiledProfile, ProfileNode, SliceNode } from './compile-profile.js';
import { equalsValue, fixedOrPattern, getCompiledProfile, includesValue, isObject } from './compile-profile.js';
import { invariantHolds } from './invariants.js';
import { isConcordUrl } from './urls.js';
import { codeInValueSet, codingInValueSet, expandValueSet } from './value-sets.js';
import { findStructureDefinition } from './conformance.js';
import { upperFirst } from '../validation/schema-properties.js';

const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';

interface Walk {
  root: Resource;
  issues: OperationOutcomeIssue[];
}

export function validateAgainstProfile(resource: Resource, profileUrl: string): OperationOutcomeIssue[] {
  const profile = isConcordUrl(profileUrl) ? getCompiledProfile(profileUrl) : undefined;
  if (!profile) {
    return [issue('not-supported', `Unknown Concord profile ${profileUrl}`, { expression: [`${resource.resourceType}.meta.profile`] })];
  }
  if (resource.resourceType !== profile.type) {
    return [
      issue('invalid', `Profile ${profileUrl} is for ${profile.type}, not ${resource.resourceType}`, {
        expression: [`${resource.resourceType}.meta.profile`],
      }),
    ];
  }
  const walk: Walk = { root: resource, issues: [] };
  checkValue(walk, resource, profile.root, resource.resourceType, undefined);
  return walk.issues;
}

/** What checkValue needs of an element definition, derived once per element (the snapshot never changes). */
interface ElementFacts {
  expected: ReturnType<typeof fixedOrPattern>;
  /** The error-severity invariants Concord added, the only ones this walk evaluates. */
  invariants: { key?: string; human?: string; expression: string }[];
  /** A required binding to a Concord ValueSet. */
  valueSet: string | undefined;
}

const factsByElement = new WeakMap<ElementDefinition, ElementFacts>();

function factsOf(ed: ElementDefinition): ElementFacts {
  let facts = factsByElement.get(ed);
  if (!facts) {
    const invariants = (ed.constraint ?? []).flatMap((c) =>
      c.severity === 'error' && c.source && isConcordUrl(c.source) && c.expression ? [{ key: c.key, human: c.human, expression: c.expression }] : [],
    );
    const valueSet = ed.binding?.strength === 'required' ? ed.binding.valueSet : undefined;
    facts = { expected: fixedOrPattern(ed), invariants, valueSet: valueSet && isConcordUrl(valueSet) ? valueSet : undefined };
    factsByElement.set(ed, facts);
  }
  return facts;
}

function cardinality(max: string | undefined): number {
  return max === undefined || max === '*' ? Number.POSITIVE_INFINITY : Number.parseInt(max, 10);
}


interface Item {
  value: unknown;
  expression: string;
  type: ElementDefinitionType | undefined;
}

/**
 * What checkChildren needs of one child element, derived once per compiled node: the walk visits every
 * child of every profiled node on every write, and most are absent, so the test that skips one must not
 * re-parse cardinalities or re-read names each time.
 */
interface ChildFacts {
  node: ProfileNode;
  /** For a choice element `value[x]`: `value`. */
  choicePrefix: string | undefined;
  types: ElementDefinitionType[];
  /** For a choice element: the first of its types by JSON key suffix (`valueCoding` -> Coding). */
  typeBySuffix: Map<string, ElementDefinitionType> | undefined;
  /**
   * Neither sliced nor a choice, and checkValue finds nothing to check on any of its values (no fixed or
   * pattern value, binding, invariant, profiled child, reference target or Concord type profile): its values
   * need no items, only a count where the profile tightened its cardinality.
   */
  inert: boolean;
  /** The base allows more than one value: expressions carry an index. */
  isArray: boolean;
  tightened: boolean;
  min: number;
  max: number;
  /** `.name` with any `[x]` dropped: the element's expression below its parent's. */
  suffix: string;
  slices: { node: SliceNode; min: number; max: number; type: ElementDefinitionType | undefined; what: string }[] | undefined;
}

const childFactsByNode = new WeakMap<ProfileNode, ChildFacts[]>();

function childFactsOf(node: ProfileNode): ChildFacts[] {
  let facts = childFactsByNode.get(node);
  if (!facts) {
    facts = node.children.map((child) => ({
      node: child,
      choicePrefix: child.name.endsWith('[x]') ? child.name.slice(0, -3) : undefined,
      types: child.ed.type ?? [],
      typeBySuffix: child.name.endsWith('[x]') ? typesBySuffix(child.ed.type ?? []) : undefined,
      inert: !child.slices && !child.name.endsWith('[x]') && nothingToCheck(child, child.ed.type?.length === 1 ? child.ed.type[0] : undefined),
      isArray: cardinality(child.ed.base?.max ?? child.ed.max) > 1,
      tightened: tightened(child.ed),
      min: child.ed.min ?? 0,
      max: cardinality(child.ed.max),
      suffix: `.${child.name.replace('[x]', '')}`,
      slices: child.slices?.map((slice) => {
        const url = slice.ed.type?.[0]?.profile?.[0];
        return {
          node: slice,
          min: slice.ed.min ?? 0,
          max: cardinality(slice.ed.max),
          type: slice.ed.type?.[0],
          what: `${child.ed.id ?? child.ed.path} slice '${slice.sliceName}'${url ? ` (${url})` : ''}`,
        };
      }),
    }));
    childFactsByNode.set(node, facts);
  }
  return facts;
}

function typesBySuffix(types: ElementDefinitionType[]): Map<string, ElementDefinitionType> {
  const out = new Map<string, ElementDefinitionType>();
  for (const t of types) {
    const suffix = upperFirst(t.code ?? '');
    if (!out.has(suffix)) out.set(suffix, t);
  }
  return out;
}

/** True when checkValue(walk, value, node, expr, type) adds no issue for any value (see checkValue). */
function nothingToCheck(node: ProfileNode, type: ElementDefinitionType | undefined): boolean {
  const facts = factsOf(node.ed);
  if (facts.expected || facts.valueSet || facts.invariants.length > 0 || node.children.length > 0) return false;
  if (type?.code === 'Reference' && (allowedTargetTypes(type)?.size ?? 0) > 0) return false;
  return typeProfiles(type).length === 0;
}

/** How many values one element holds in `obj` (what itemsOf would append for it). */
function countValues(obj: Record<string, unknown>, name: string): number {
  if (!(name in obj)) return 0;
  const raw = obj[name];
  if (!Array.isArray(raw)) return raw !== null && raw !== undefined ? 1 : 0;
  let n = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] !== null && raw[i] !== undefined) n++;
  return n;
}

/**
 * Appends the values of one child element in `obj` to `items`, with their FHIRPath and (for choices) their
 * type, and returns how many values were present but of a type the profile excludes (already reported;
 * they still count as present).
 */
function itemsOf(walk: Walk, obj: Record<string, unknown>, c: ChildFacts, parentExpr: string, items: Item[]): number {
  let excluded = 0;
  if (c.choicePrefix !== undefined) {
    const prefix = c.choicePrefix;
    for (const key of Object.keys(obj)) {
      if (!key.startsWith(prefix)) continue;
      const suffix = key.slice(prefix.length);
      const first = suffix.charCodeAt(0);
      if (!(first >= 0x41 && first <= 0x5a)) continue; // A-Z
      const type = c.typeBySuffix!.get(suffix);
      if (!type) {
        const ed = c.node.ed;
        walk.issues.push(
          issue('structure', `${ed.id ?? ed.path} does not allow type ${suffix} in this profile (allowed: ${c.types.map((t) => t.code).join(', ')})`, {
            expression: [`${parentExpr}.${key}`],
          }),
        );
        excluded++;
        continue;
      }
      pushValues(obj[key], key, type, c.isArray, parentExpr, items);
    }
  } else if (c.node.name in obj) {
    pushValues(obj[c.node.name], c.node.name, c.types.length === 1 ? c.types[0] : undefined, c.isArray, parentExpr, items);
  }
  return excluded;
}

function pushValues(raw: unknown, key: string, type: ElementDefinitionType | undefined, isArray: boolean, parentExpr: string, items: Item[]): void {
  const at = `${parentExpr}.${key}`;
  if (!Array.isArray(raw)) {
    // null / undefined entries are base validation's business (null is legal beside `_` primitives).
    if (raw !== null && raw !== undefined) items.push({ value: raw, type, expression: isArray ? `${at}[0]` : at });
    return;
  }
  for (let i = 0; i < raw.length; i++) {
    const value: unknown = raw[i];
    if (value !== null && value !== undefined) items.push({ value, type, expression: isArray ? `${at}[${i}]` : at });
  }
}

function cardinalityIssue(ed: ElementDefinition, min: number, max: number, count: number, expression: string, what: string): OperationOutcomeIssue | undefined {
  if (count >= min && count <= max) return undefined;
  const range = `${min}..${ed.max ?? '*'}`;
  return issue(count < min ? 'required' : 'structure', `${what}: expected ${range}, found ${count}`, { expression: [expression] });
}

/** Did the profile tighten this element's cardinality relative to the base definition? */
function tightened(ed: ElementDefinition): boolean {
  const base = ed.base;
  if (!base) return true;
  return (ed.min ?? 0) > (base.min ?? 0) || cardinality(ed.max) < cardinality(base.max);
}

function checkChildren(walk: Walk, obj: Record<string, unknown>, node: ProfileNode, expr: string): void {
  for (const c of childFactsOf(node)) {
    const child = c.node;
    // Nothing to check for an absent element that is neither sliced nor made required by the profile.
    if (!c.slices && c.choicePrefix === undefined && !c.tightened && !Object.hasOwn(obj, child.name)) continue;
    if (c.inert) {
      if (c.tightened) {
        const problem = cardinalityIssue(child.ed, c.min, c.max, countValues(obj, child.name), expr + c.suffix, child.ed.id ?? child.name);
        if (problem) walk.issues.push(problem);
      }
      continue;
    }
    const items: Item[] = [];
    const excluded = itemsOf(walk, obj, c, expr, items);
    let sliceProblems = false;
    if (c.slices) {
      const slices = c.slices;
      const bySlice: Item[][] = slices.map(() => []);
      for (const item of items) {
        const at = slices.findIndex((s) => s.node.matches(item.value));
        if (at >= 0) {
          bySlice[at]!.push(item);
        } else if (child.ed.slicing?.rules === 'closed') {
          walk.issues.push(issue('structure', `${child.ed.path}: value matches no slice of this closed slicing`, { expression: [item.expression] }));
        } else {
          checkValue(walk, item.value, child, item.expression, item.type);
        }
      }
      for (let s = 0; s < slices.length; s++) {
        const slice = slices[s]!;
        const matched = bySlice[s]!;
        const problem = cardinalityIssue(slice.node.ed, slice.min, slice.max, matched.length, expr + c.suffix, slice.what);
        if (problem) {
          walk.issues.push(problem);
          sliceProblems = true;
        }
        for (const item of matched) checkValue(walk, item.value, slice.node, item.expression, slice.type ?? item.type);
      }
    } else {
      for (const item of items) checkValue(walk, item.value, child, item.expression, item.type);
    }
    // A sliced element's own minimum is the sum of its slices': report the slice, not the sum twice.
    if (!sliceProblems && c.tightened) {
      const problem = cardinalityIssue(child.ed, c.min, c.max, items.length + excluded, expr + c.suffix, child.ed.id ?? child.name);
      if (problem) walk.issues.push(problem);
    }
  }
}

function checkValue(walk: Walk, value: unknown, node: ProfileNode, expr: string, type: ElementDefinitionType | undefined): void {
  const ed = node.ed;
  const facts = factsOf(ed);
  const expected = facts.expected;
  if (expected?.kind === 'fixed' && !equalsValue(value, expected.value)) {
    walk.issues.push(issue('value', `${ed.id ?? ed.path} must be exactly ${JSON.stringify(expected.value)}`, { expression: [expr] }));
  } else if (expected?.kind === 'pattern' && !includesValue(value, expected.value)) {
    walk.issues.push(issue('value', `${ed.id ?? ed.path} must match ${JSON.stringify(expected.value)}`, { expression: [expr] }));
  }
  if (type?.code === 'Reference' && isObject(value)) checkReferenceTarget(walk, value, type, ed, expr);
  if (facts.valueSet) checkBinding(walk, value, ed, facts.valueSet, type, expr);
  for (const c of facts.invariants) {
    const result = invariantHolds(ed.path ?? '', c.expression, value, walk.root);
    if (!result.holds) {
      const text = `Constraint ${c.key} not met: ${c.human}`;
      walk.issues.push(
        issue('invariant', result.error ? `${text} (evaluation failed: ${result.error})` : text, {
          expression: [expr],
          details: { text },
        }),
      );
    }
  }
  if (!isObject(value)) return;
  if (node.children.length > 0) checkChildren(walk, value, node, expr);
  // A Concord extension (or datatype profile) is checked against its own StructureDefinition as well.
  for (const profile of typeProfiles(type)) checkValue(walk, value, profile.root, expr, undefined);
}

const NO_PROFILES: CompiledProfile[] = [];
const profilesByType = new WeakMap<ElementDefinitionType, CompiledProfile[]>();

/** The compiled Concord profiles a type names, in order (the snapshots and their compilations never change). */
function typeProfiles(type: ElementDefinitionType | undefined): CompiledProfile[] {
  if (!type?.profile) return NO_PROFILES;
  let profiles = profilesByType.get(type);
  if (!profiles) {
    profiles = type.profile.flatMap((url) => {
      const profile = isConcordUrl(url) ? getCompiledProfile(url) : undefined;
      return profile ? [profile] : [];
    });
    profilesByType.set(type, profiles);
  }
  return profiles;
}

/** The resource type a reference names, when it can be read off cheaply (no resolution). */
function referencedType(ref: Record<string, unknown>): string | undefined {
  const reference = typeof ref.reference === 'string' ? ref.reference : undefined;
  if (reference && !reference.startsWith('#') && !reference.startsWith('urn:')) {
    const conditional = /^([A-Z][A-Za-z]+)\?/.exec(reference);
    if (conditional) return conditional[1];
    const literal = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9.-]{1,64}(?:\/_history\/[A-Za-z0-9.-]{1,64})?$/.exec(reference);
    if (literal) return literal[1];
  }
  return typeof ref.type === 'string' ? ref.type : undefined;
}

const targetsByType = new WeakMap<ElementDefinitionType, { allowed: Set<string> | undefined }>();

/** The resource types a Reference type's target profiles allow, derived once per type (static snapshots). */
function allowedTargetTypes(type: ElementDefinitionType): Set<string> | undefined {
  let targets = targetsByType.get(type);
  if (!targets) targetsByType.set(type, (targets = { allowed: targetTypesOf(type.targetProfile ?? []) }));
  return targets.allowed;
}

function targetTypesOf(targets: string[]): Set<string> | undefined {
  const types = new Set<string>();
  for (const target of targets) {
    if (target === HL7_SD + 'Resource') return undefined;
    if (target.startsWith(HL7_SD)) types.add(target.slice(HL7_SD.length));
    else {
      const sd = isConcordUrl(target) ? findStructureDefinition(target) : undefined;
      if (!sd?.type) return undefined; // a profile we cannot see: do not guess
      types.add(sd.type);
    }
  }
  return types;
}

function checkReferenceTarget(walk: Walk, ref: Record<string, unknown>, type: ElementDefinitionType, ed: ElementDefinition, expr: string): void {
  const allowed = allowedTargetTypes(type);
  const actual = referencedType(ref);
  if (!allowed || allowed.size === 0 || !actual || allowed.has(actual)) return;
  walk.issues.push(
    issue('structure', `${ed.id ?? ed.path} must reference ${[...allowed].join(' or ')}, not ${actual}`, { expression: [expr] }),
  );
}

function checkBinding(walk: Walk, value: unknown, ed: ElementDefinition, valueSet: string, type: ElementDefinitionType | undefined, expr: string): void {
  const codes = expandValueSet(valueSet);
  if (!codes) return;
  let ok = true;
  if (type?.code === 'code' && typeof value === 'string') ok = codeInValueSet(codes, value);
  else if (type?.code === 'Coding' && isObject(value)) ok = codingInValueSet(codes, value);
  else if (type?.code === 'CodeableConcept' && isObject(value)) {
    const codings = Array.isArray(value.coding) ? (value.coding as unknown[]) : [];
    ok = codings.some((c) => isObject(c) && codingInValueSet(codes, c));
  }
  if (!ok) {
    walk.issues.push(issue('code-invalid', `${ed.id ?? ed.path} must be a code from ${valueSet}`, { expression: [expr] }));
  }
}

// A Concord StructureDefinition's snapshot, compiled once into a tree the profile validator walks:
// each element with its children (by id, so slices keep their own children) and its slices. Compiled
// trees are cached per URL for the life of the process.
import type { ElementDefinition } from '@medplum/fhirtypes';
import { findStructureDefinition } from './conformance.js';

export interface ProfileNode {
  ed: ElementDefinition;
  /** Last segment of the element path, e.g. `participant` or `value[x]`. */
  name: string;
  children: ProfileNode[];
  /** Present when the element is sliced: the slices in snapshot order. */
  slices?: SliceNode[];
}

export interface SliceNode extends ProfileNode {
  sliceName: string;
  /** Matches a value to this slice by the element's discriminators. */
  matches: (value: unknown) => boolean;
}

export interface CompiledProfile {
  url: string;
  type: string;
  root: ProfileNode;
}

const compiled = new Map<string, CompiledProfile | undefined>();

export function getCompiledProfile(url: string): CompiledProfile | undefined {
  if (!compiled.has(url)) compiled.set(url, compile(url));
  return compiled.get(url);
}

function compile(url: string): CompiledProfile | undefined {
  const sd = findStructureDefinition(url);
  const elements = sd?.snapshot?.element;
  const first = elements?.[0];
  if (!sd?.type || !elements || !first?.id) return undefined;
  const root: ProfileNode = { ed: first, name: first.path ?? '', children: [] };
  const byId = new Map<string, ProfileNode>([[first.id, root]]);
  const pendingSlices: { sliced: ProfileNode; slice: SliceNode }[] = [];
  for (const ed of elements.slice(1)) {
    const id = ed.id ?? '';
    const parts = id.split('.');
    const last = parts.pop() ?? '';
    const parentId = parts.join('.');
    const [name = '', sliceName] = last.split(':');
    if (sliceName !== undefined) {
      const sliced = byId.get(`${parentId}.${name}`);
      if (!sliced?.ed.slicing) throw new Error(`${url}: slice ${id} without a sliced element`);
      const slice: SliceNode = { ed, name, children: [], sliceName, matches: () => false };
      (sliced.slices ??= []).push(slice);
      pendingSlices.push({ sliced, slice });
      byId.set(id, slice);
    } else {
      const parent = byId.get(parentId);
      if (!parent) throw new Error(`${url}: element ${id} without parent`);
      const node: ProfileNode = { ed, name, children: [] };
      parent.children.push(node);
      byId.set(id, node);
    }
  }
  // Discriminators may read a slice's children (e.g. `url`), so matchers are built once all are known.
  for (const { sliced, slice } of pendingSlices) slice.matches = discriminatorMatcher(url, sliced, slice);
  return { url, type: sd.type, root };
}

function discriminatorMatcher(url: string, sliced: ProfileNode, slice: SliceNode): (value: unknown) => boolean {
  const tests = (sliced.ed.slicing?.discriminator ?? []).map((d) => {
    if ((d.type === 'value' || d.type === 'pattern') && d.path === 'url') {
      // An extension slice is identified by its url: fixed on the slice's `url` child or given by its type profile.
      const fixed = slice.children.find((c) => c.name === 'url')?.ed.fixedUri ?? slice.ed.type?.[0]?.profile?.[0];
      if (!fixed) throw new Error(`${url}: slice ${slice.sliceName} has no url to discriminate on`);
      return (v: unknown): boolean => isObject(v) && v.url === fixed;
    }
    if ((d.type === 'value' || d.type === 'pattern') && d.path === '$this') {
      const expected = fixedOrPattern(slice.ed);
      if (!expected) throw new Error(`${url}: slice ${slice.sliceName} has no fixed or pattern value`);
      return (v: unknown): boolean => includesValue(v, expected.value);
    }
    throw new Error(`${url}: discriminator ${d.type} on ${d.path} is not supported`);
  });
  return (value) => tests.every((t) => t(value));
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The element's fixed[x] or pattern[x] value, if any. */
export function fixedOrPattern(ed: ElementDefinition): { kind: 'fixed' | 'pattern'; value: unknown } | undefined {
  for (const [key, value] of Object.entries(ed)) {
    if (key.startsWith('fixed')) return { kind: 'fixed', value };
    if (key.startsWith('pattern')) return { kind: 'pattern', value };
  }
  return undefined;
}

/** FHIR pattern matching: every property of the pattern appears in the value (arrays: each item matched). */
export function includesValue(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && pattern.every((p) => value.some((v) => includesValue(v, p)));
  }
  if (isObject(pattern)) {
    return isObject(value) && Object.entries(pattern).every(([k, p]) => includesValue(value[k], p));
  }
  return value === pattern;
}

export function equalsValue(value: unknown, fixed: unknown): boolean {
  if (Array.isArray(fixed)) {
    return Array.isArray(value) && value.length === fixed.length && fixed.every((f, i) => equalsValue(value[i], f));
  }
  if (isObject(fixed)) {
    if (!isObject(value)) return false;
    const keys = new Set([...Object.keys(value), ...Object.keys(fixed)]);
    return [...keys].every((k) => equalsValue(value[k], fixed[k]));
  }
  return value === fixed;
}

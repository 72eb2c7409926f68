// The base validation's one walk (src/fhir/validation/base-walk.ts) answers medplum's fast path in the same
// pass as the schema walk. Its verdict must be medplumWouldAccept's, the fast path walked on its own, for every
// input: a "true" where that says false would skip medplum's validator on a resource it refuses; a "false"
// where it says true would run the validator for nothing. Checked over every official R4 example (and the first
// entries of the example Bundles), the fixtures, the bench corpora, seeded mutants of each (deleted, emptied,
// retyped, duplicated, misplaced elements, primitive extensions, nested resources) and objects with other
// prototypes. That the issues are unchanged is base-pass-equivalence.test.ts's claim.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getDataType } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { validationCorpora } from '../../../bench/validation-corpora.js';
import { isResourceType, loadDefinitions } from '../../../src/fhir/definitions.js';
import type { BaseWalkVisitor } from '../../../src/fhir/validation/base-walk.js';
import { walkBase } from '../../../src/fhir/validation/base-walk.js';
import { medplumWouldAccept } from '../../../src/fhir/validation/medplum-fast-path.js';
import { walkResource } from '../../../src/fhir/validation/resource-walker.js';
import * as profileFixtures from '../profiles/fixtures.js';
import * as validationFixtures from './fixtures.js';

type Obj = Record<string, unknown>;
const EXAMPLES_DIR = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

function corpus(): Obj[] {
  const out: Obj[] = [];
  for (const f of readdirSync(EXAMPLES_DIR).filter((x) => x.endsWith('.json') && x !== 'package.json').sort()) {
    const text = readFileSync(join(EXAMPLES_DIR, f), 'utf8');
    const r = JSON.parse(text) as Obj;
    if (text.length <= 256 * 1024) out.push(r);
    const entries = r.resourceType === 'Bundle' && Array.isArray(r.entry) ? (r.entry as { resource?: Obj }[]) : [];
    for (const e of entries.slice(0, 20)) if (e.resource && typeof e.resource.resourceType === 'string') out.push(e.resource);
  }
  for (const make of Object.values(profileFixtures)) out.push(make() as unknown as Obj);
  for (const v of Object.values(validationFixtures)) if (typeof v === 'object' && v !== null && 'resourceType' in v) out.push(validationFixtures.copy(v) as unknown as Obj);
  const raw = validationCorpora(40);
  for (const b of [...raw.import, ...raw.patient.slice(0, 200)]) out.push(JSON.parse(b.toString('utf8')) as Obj);
  return out;
}

/** A deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function slots(value: unknown, out: [Obj | unknown[], string | number][] = []): [Obj | unknown[], string | number][] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      slots(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const k of Object.keys(value)) {
      out.push([value as Obj, k]);
      slots((value as Obj)[k], out);
    }
  }
  return out;
}

const REPLACEMENTS: (() => unknown)[] = [
  () => '',
  () => ' ',
  () => 'not a date',
  () => '2020-13-45',
  () => 12.5,
  () => -1,
  () => 0,
  () => true,
  () => ({}),
  () => [],
  () => [{}],
  () => null,
  () => ({ zzz: 1 }),
  () => ['x'],
  () => ({ text: 'x' }),
  () => ({ resourceType: 'Patient', id: 'p' }),
  () => ({ resourceType: 'Nope' }),
  () => ({ extension: [{ url: 'http://example.org/x', valueString: 'a', valueCode: 'b' }] }),
  () => Object.assign(Object.create({ inherited: 1 }) as Obj, { text: 'x' }),
];

function mutants(resource: Obj, next: () => number, count: number): Obj[] {
  const out: Obj[] = [];
  for (let n = 0; n < count; n++) {
    const copy = structuredClone(resource);
    const all = slots(copy).filter(([, k]) => k !== 'resourceType');
    if (all.length === 0) break;
    const changes = 1 + Math.floor(next() * 2);
    for (let c = 0; c < changes; c++) {
      const [container, key] = all[Math.floor(next() * all.length)]!;
      const choice = next();
      const at = container as Record<string | number, unknown>;
      if (choice < 0.15 && !Array.isArray(container)) delete at[key];
      else if (choice < 0.25 && !Array.isArray(container)) at[`${String(key)}Zz`] = at[key];
      else if (choice < 0.3 && !Array.isArray(container)) at[`_${String(key)}`] = { extension: [{ url: 'http://example.org/x', valueString: 'a' }] };
      else if (choice < 0.35 && !Array.isArray(container)) at['resourceType'] = 'Patient';
      else if (choice < 0.4) at[key] = [at[key]];
      else at[key] = REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)]!();
    }
    out.push(copy);
  }
  return out;
}

/** Records every hook call, to compare the schema walk's side with resource-walker.ts's. */
function recorder(): BaseWalkVisitor & { calls: unknown[] } {
  const calls: unknown[] = [];
  return {
    calls,
    value: (prop, value, path) => calls.push(['value', prop.elementName, prop.typeCode, value, path]),
    object: (obj, schema, path, rt) => calls.push(['object', obj, schema.name, path, rt]),
    unknownKey: (key, value, path) => calls.push(['unknownKey', key, value, path]),
    primitiveExtension: (key, value, path) => calls.push(['primitiveExtension', key, value, path]),
    duplicateChoice: (path, keys) => calls.push(['duplicateChoice', path, [...keys]]),
    unknownResource: (value, path) => calls.push(['unknownResource', value, path]),
  };
}

describe('the base validation walk', () => {
  it("gives medplum's fast-path verdict and the schema walk's visits, over examples, corpora and mutants", () => {
    loadDefinitions();
    const next = random(25);
    let accepted = 0;
    let compared = 0;
    const different: string[] = [];
    for (const resource of corpus()) {
      const inputs = [resource, ...(JSON.stringify(resource).length <= 16 * 1024 ? mutants(resource, next, 4) : [])];
      for (const input of inputs) {
        const type = input.resourceType;
        if (typeof type !== 'string' || !isResourceType(type)) continue;
        compared++;
        // Each walk gets its own copy: FHIRPath evaluation writes into some malformed inputs.
        const expected = medplumWouldAccept(structuredClone(input));
        const oneWalk = recorder();
        const actual = walkBase(structuredClone(input), getDataType(type), type, oneWalk).medplumAccepts();
        const schemaWalk = recorder();
        walkResource(structuredClone(input), getDataType(type), type, schemaWalk);
        if (expected) accepted++;
        if (actual !== expected) different.push(`verdict ${String(actual)}, fast path ${String(expected)}: ${JSON.stringify(input).slice(0, 300)}`);
        else if (JSON.stringify(oneWalk.calls) !== JSON.stringify(schemaWalk.calls)) different.push(`visits differ: ${JSON.stringify(input).slice(0, 300)}`);
      }
    }
    console.log(`base walk: ${compared} inputs, ${accepted} accepted by the fast path`);
    expect(different.slice(0, 5)).toEqual([]);
    // Both verdicts must be well represented for the comparison to mean something.
    expect(accepted).toBeGreaterThan(compared / 5);
    expect(accepted).toBeLessThan((compared * 4) / 5);
  }, 600_000);
});

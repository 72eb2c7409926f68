// The extraction shortcuts (src/fhir/search/simple-paths.ts) give exactly what FHIRPath gives: for every
// official R4 example (and every resource inside the example Bundles) and every search parameter of its
// type, a skipped parameter would have yielded nothing, and a directly walked path yields the same
// values, FHIR types and node paths.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileExpression } from '../../../src/fhir/search/expression.js';
import { searchParametersFor } from '../../../src/fhir/search/parameters.js';
import { hasAnyElement, rootElements, simplePath } from '../../../src/fhir/search/simple-paths.js';

type Obj = Record<string, unknown>;
const EXAMPLES_DIR = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

function resources(): Obj[] {
  const out: Obj[] = [];
  for (const f of readdirSync(EXAMPLES_DIR).filter((x) => x.endsWith('.json') && x !== 'package.json')) {
    const r = JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as Obj;
    out.push(r);
    const entries = r.resourceType === 'Bundle' && Array.isArray(r.entry) ? (r.entry as { resource?: Obj }[]) : [];
    for (const e of entries.slice(0, 50)) if (e.resource && typeof e.resource.resourceType === 'string') out.push(e.resource);
  }
  return out;
}

describe('index extraction shortcuts', () => {
  it('agree with FHIRPath on every official example and every search parameter', () => {
    let skipped = 0;
    let direct = 0;
    let evaluatedBoth = 0;
    let filtered = 0;
    const mismatches: string[] = [];
    for (const resource of resources()) {
      const type = resource.resourceType as string;
      for (const def of searchParametersFor(type)) {
        if (!def.expression) continue;
        let expected: unknown;
        try {
          expected = compileExpression(def.expression)(resource);
        } catch {
          continue; // FHIRPath errors are handled by the extractor (parameter left out) either way
        }
        const roots = rootElements(def.expression, type);
        if (roots && !hasAnyElement(resource, roots)) {
          skipped++;
          if ((expected as unknown[]).length !== 0) mismatches.push(`skip ${type}.${def.code} (${String(resource.id)})`);
          continue;
        }
        const walk = simplePath(def.expression, type);
        const got = walk?.(resource);
        if (got === undefined) continue;
        direct++;
        if (def.expression.includes('.where(')) filtered++;
        evaluatedBoth++;
        if (JSON.stringify(got) !== JSON.stringify(expected)) mismatches.push(`walk ${type}.${def.code} (${String(resource.id)}): ${JSON.stringify(got).slice(0, 200)} vs ${JSON.stringify(expected).slice(0, 200)}`);
      }
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    // The shortcuts must actually be taken, or this test proves nothing.
    expect(skipped).toBeGreaterThan(50_000);
    expect(direct).toBeGreaterThan(10_000);
    expect(evaluatedBoth).toBe(direct);
    // where(resolve() is T) and where(code = 'x') walked directly (676 when written).
    expect(filtered).toBeGreaterThan(500);
  }, 600_000);

  it('only skips expressions that navigate from one element', () => {
    expect(rootElements('Patient.telecom.where(system=\'email\')', 'Patient')).toEqual(['telecom']);
    expect(rootElements('(Patient.deceased as dateTime)', 'Patient')).toEqual(['deceased']);
    expect(rootElements('Resource.meta.tag', 'Patient')).toEqual(['meta']);
    expect(rootElements('Observation.value.as(Quantity) | Observation.value.as(SampledData)', 'Observation')).toEqual(['value', 'value']);
    // Yields false without the element: must be evaluated.
    expect(rootElements('Patient.deceased.exists() and Patient.deceased != false', 'Patient')).toBeUndefined();
    expect(rootElements('Patient.name.exists()', 'Patient')).toBeUndefined();
    expect(rootElements('Patient.link.other.where(resolve() is Patient)', 'Patient')).toEqual(['link']);
    expect(rootElements('%resource.name', 'Patient')).toBeUndefined();
    expect(hasAnyElement({ resourceType: 'Patient', deceasedBoolean: true }, ['deceased'])).toBe(true);
    expect(hasAnyElement({ resourceType: 'Patient', _birthDate: { extension: [] } }, ['birthDate'])).toBe(true);
    expect(hasAnyElement({ resourceType: 'Patient', name: [] }, ['telecom'])).toBe(false);
  });

  it('filters references by their target type and elements by a code, as FHIRPath does', () => {
    const patient = simplePath('CareTeam.subject.where(resolve() is Patient)', 'CareTeam')!;
    const team = (subject: unknown): Obj => ({ resourceType: 'CareTeam', subject });
    const ref = { value: { reference: 'Patient/p1' }, type: 'Reference', path: 'Reference' };
    expect(patient(team({ reference: 'Patient/p1' }))).toEqual([ref]);
    expect(patient(team({ reference: 'http://example.org/fhir/Patient/p1/_history/2' }))).toHaveLength(1);
    expect(patient(team({ reference: 'Group/g1' }))).toEqual([]);
    expect(patient(team({ reference: 'Group/g1', type: 'Patient' }))).toHaveLength(1);
    expect(patient(team({ identifier: { value: 'x' } }))).toEqual([]);
    expect(patient(team({ reference: 'Patient/p1\nPatient/p2' }))).toEqual([]);
    // A primitive extension or a non-string reference is FHIRPath's to interpret.
    expect(patient(team({ reference: 'Patient/p1', _reference: { extension: [] } }))).toBeUndefined();
    expect(patient(team({ reference: 7 }))).toBeUndefined();
    const phone = simplePath("Patient.telecom.where(system='phone')", 'Patient')!;
    const telecom = [{ system: 'phone', value: '1' }, { system: 'email', value: 'a@b' }, { value: '2' }];
    expect(phone({ resourceType: 'Patient', telecom })).toEqual([{ value: telecom[0], type: 'ContactPoint', path: 'ContactPoint' }]);
    expect(phone({ resourceType: 'Patient', telecom: [{ system: 'phone', _system: { extension: [] } }] })).toBeUndefined();
  });

  it('leaves what the walk does not model to FHIRPath', () => {
    const given = simplePath('Patient.name.given', 'Patient')!;
    expect(given({ resourceType: 'Patient', name: [{ given: ['A', 'B'] }] })).toEqual([
      { value: 'A', type: 'string', path: 'string' },
      { value: 'B', type: 'string', path: 'string' },
    ]);
    // A primitive extension or a null is FHIRPath's to interpret.
    expect(given({ resourceType: 'Patient', name: [{ given: ['A', null], _given: [null, { extension: [] }] }] })).toBeUndefined();
    expect(simplePath('Patient.telecom.where(system=\'email\' or use=\'home\')', 'Patient')).toBeUndefined();
    expect(simplePath('Patient.telecom.where(system=\'email\').value', 'Patient')).toBeUndefined();
    expect(simplePath('Patient.extension.value', 'Patient')).toBeUndefined();
    expect(simplePath('(Patient.deceased as dateTime)', 'Patient')).toBeUndefined();
  });
});

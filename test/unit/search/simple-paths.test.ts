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
import { directEvaluator, hasAnyElement, rootElements, simplePath } from '../../../src/fhir/search/simple-paths.js';

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
    let filteredShapes = 0;
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
        const walk = directEvaluator(def.expression, type);
        const got = walk?.(resource);
        if (got === undefined) continue;
        direct++;
        if (!simplePath(def.expression, type)) filteredShapes++;
        evaluatedBoth++;
        if (JSON.stringify(got) !== JSON.stringify(expected)) mismatches.push(`walk ${type}.${def.code} (${String(resource.id)}): ${JSON.stringify(got).slice(0, 200)} vs ${JSON.stringify(expected).slice(0, 200)}`);
      }
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    // The shortcuts must actually be taken, or this test proves nothing.
    expect(skipped).toBeGreaterThan(50_000);
    expect(direct).toBeGreaterThan(10_000);
    expect(evaluatedBoth).toBe(direct);
    // The filtered shapes (where(b = 'x'), where(resolve() is X), exists() and != false) are taken too.
    expect(filteredShapes).toBeGreaterThan(500);
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

  it('leaves what the walk does not model to FHIRPath', () => {
    const given = simplePath('Patient.name.given', 'Patient')!;
    expect(given({ resourceType: 'Patient', name: [{ given: ['A', 'B'] }] })).toEqual([
      { value: 'A', type: 'string', path: 'string' },
      { value: 'B', type: 'string', path: 'string' },
    ]);
    // A primitive extension or a null is FHIRPath's to interpret.
    expect(given({ resourceType: 'Patient', name: [{ given: ['A', null], _given: [null, { extension: [] }] }] })).toBeUndefined();
    expect(simplePath('Patient.telecom.where(system=\'email\')', 'Patient')).toBeUndefined();
    expect(simplePath('Patient.extension.value', 'Patient')).toBeUndefined();
    expect(simplePath('(Patient.deceased as dateTime)', 'Patient')).toBeUndefined();
  });

  it('evaluates the filtered shapes directly, and leaves unusual data to FHIRPath', () => {
    const email = directEvaluator("Patient.telecom.where(system='email')", 'Patient')!;
    const telecom = [{ system: 'email', value: 'a@x' }, { system: 'phone', value: '1' }, { value: 'no system' }, { system: 'Email', value: 'b@x' }];
    expect(email({ resourceType: 'Patient', telecom })).toEqual([{ value: telecom[0], type: 'ContactPoint', path: 'ContactPoint' }]);
    expect(email({ resourceType: 'Patient', telecom: [{ system: 'email', _system: { extension: [] } }] })).toBeUndefined();
    expect(email({ resourceType: 'Patient', telecom: [{ system: 1 }] })).toBeUndefined();
    // A choice or complex key is FHIRPath's (it reads `value` as valueString, ...).
    expect(directEvaluator("Observation.component.where(value='x')", 'Observation')).toBeUndefined();
    expect(directEvaluator("Patient.contact.where(name='x')", 'Patient')).toBeUndefined();
    const patient = directEvaluator('CareTeam.subject.where(resolve() is Patient)', 'CareTeam')!;
    const kept = [{ reference: 'Patient/1' }, { reference: 'http://x/fhir/Patient/2/_history/3' }, { type: 'Patient', identifier: { value: 'x' } }];
    const dropped = [{ reference: 'Group/1' }, { reference: '#p1' }, { display: 'nobody' }, { reference: 'Patient/1/x' }];
    for (const subject of kept) expect(patient({ resourceType: 'CareTeam', subject })).toEqual([{ value: subject, type: 'Reference', path: 'Reference' }]);
    for (const subject of dropped) expect(patient({ resourceType: 'CareTeam', subject })).toEqual([]);
    expect(patient({ resourceType: 'CareTeam', subject: { reference: 'Patient/1', _reference: {} } })).toBeUndefined();
    const deceased = directEvaluator('Patient.deceased.exists() and Patient.deceased != false', 'Patient')!;
    expect(deceased({ resourceType: 'Patient' })).toEqual([{ value: false, type: 'Boolean', path: '' }]);
    expect(deceased({ resourceType: 'Patient', deceasedBoolean: true })).toBeUndefined();
    // Each agrees with FHIRPath on these inputs too.
    for (const [expression, type, resource] of [
      ["Patient.telecom.where(system='email')", 'Patient', { resourceType: 'Patient', telecom }],
      ...[...kept, ...dropped].map((subject) => ['CareTeam.subject.where(resolve() is Patient)', 'CareTeam', { resourceType: 'CareTeam', subject }] as const),
      ['Patient.deceased.exists() and Patient.deceased != false', 'Patient', { resourceType: 'Patient' }],
    ] as [string, string, Obj][]) {
      expect(directEvaluator(expression, type)!(resource)).toEqual(compileExpression(expression)(resource));
    }
  });
});

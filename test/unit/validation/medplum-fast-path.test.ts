// The fast path (src/fhir/validation/medplum-fast-path.ts) may only say "medplum would accept this" when
// medplum's validator, run for real, reports no error: then skipping it changes no answer. Checked over every
// official R4 example (and the resources inside the example Bundles), the Concord fixtures, and mutated
// variants of each (a deleted, emptied, retyped, misformatted or unknown element) that are mostly invalid.
// It must also actually apply: most valid resources take it.
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { random, resourceCorpus, slots, type Obj } from '../resource-corpus.js';
import { loadDefinitions } from '../../../src/fhir/definitions.js';
import { plainNumbers } from '../../../src/fhir/number-text.js';
import { medplumWouldAccept } from '../../../src/fhir/validation/medplum-fast-path.js';
import { parseJsonBody } from '../../../src/http/json-body.js';
import { medplumIssues } from '../../../src/fhir/validation/medplum-issues.js';
import { validateResource } from '../../../src/fhir/validation/index.js';
import * as validationFixtures from './fixtures.js';

const corpus = (): Obj[] => resourceCorpus({ maxExampleBytes: 256 * 1024, entriesPerBundle: 20 });

const REPLACEMENTS: unknown[] = ['', ' ', 'two  spaces', 'not a date', '2020-13-45', 12.5, -1, 0, true, {}, [], [{}], null, { zzz: 1 }, 'urn:uuid:nope', ['x'], { text: 'x' }];

function mutants(resource: Obj, next: () => number, count: number): Obj[] {
  const out: Obj[] = [];
  for (let n = 0; n < count; n++) {
    const copy = structuredClone(resource);
    const all = slots(copy).filter(([, k]) => k !== 'resourceType');
    if (all.length === 0) break;
    const [container, key] = all[Math.floor(next() * all.length)]!;
    const choice = next();
    if (choice < 0.2 && !Array.isArray(container)) delete (container)[key as string];
    else if (choice < 0.3 && !Array.isArray(container)) (container)[`${String(key)}Zz`] = (container)[key as string];
    else if (choice < 0.4) (container as Record<string | number, unknown>)[key] = [(container as Record<string | number, unknown>)[key]];
    else (container as Record<string | number, unknown>)[key] = structuredClone(REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)]);
    out.push(copy);
  }
  return out;
}

const hasError = (r: Obj): boolean => medplumIssues(r as unknown as Resource).some((i) => i.severity === 'error' || i.severity === 'fatal');

describe('the medplum fast path', () => {
  it('accepts only what medplum accepts, over the official examples, the fixtures and their mutants', () => {
    loadDefinitions();
    const next = random(13);
    let valid = 0;
    let validFast = 0;
    let mutantsChecked = 0;
    let mutantsInvalid = 0;
    const unsound: string[] = [];
    for (const resource of corpus()) {
      const fast = medplumWouldAccept(resource);
      const slow = !hasError(resource);
      if (slow) valid++;
      if (fast) validFast++;
      if (fast && !slow) unsound.push(`${String(resource.resourceType)}/${String(resource.id)}`);
      for (const m of JSON.stringify(resource).length <= 16 * 1024 ? mutants(resource, next, 3) : []) {
        mutantsChecked++;
        const mSlow = !hasError(m);
        if (!mSlow) mutantsInvalid++;
        if (medplumWouldAccept(m) && !mSlow) unsound.push(`mutant of ${String(resource.resourceType)}/${String(resource.id)}: ${JSON.stringify(m).slice(0, 300)}`);
      }
    }
    console.log(`fast path: ${validFast} of ${valid} valid resources; ${mutantsChecked} mutants, ${mutantsInvalid} invalid`);
    expect(unsound).toEqual([]);
    // The path is taken by most resources medplum accepts (the rest use primitive extensions or slicing).
    expect(validFast / valid).toBeGreaterThan(0.6);
    expect(mutantsInvalid / mutantsChecked).toBeGreaterThan(0.3);
  }, 600_000);

  it('reads ext-1 and the contained invariants off the JSON only where FHIRPath gives the same answer', () => {
    loadDefinitions();
    // The fixture without its primitive extension (`_birthDate`, which the fast path leaves to medplum) and contained.
    const { _birthDate, contained, managingOrganization, ...base } = validationFixtures.copy(validationFixtures.patient) as unknown as Obj;
    expect([_birthDate, contained, managingOrganization].every((v) => v !== undefined)).toBe(true);
    const withExtension = (ext: Obj): Obj => ({ ...base, extension: [{ url: 'https://example.org/x', ...ext }] });
    const cases: [Obj, boolean][] = [
      [withExtension({ valueString: 'a' }), true],
      [withExtension({ extension: [{ url: 'https://example.org/y', valueCode: 'b' }] }), true],
      [withExtension({ valueString: 'a', extension: [{ url: 'https://example.org/y', valueCode: 'b' }] }), false],
      [withExtension({}), false],
      [{ ...base, contained: [{ resourceType: 'Practitioner', id: 'p1' }], generalPractitioner: [{ reference: '#p1' }] }, true],
      [{ ...base, contained: [{ resourceType: 'Practitioner', id: 'p1', meta: { versionId: '2' } }], generalPractitioner: [{ reference: '#p1' }] }, false],
      [{ ...base, contained: [{ resourceType: 'Practitioner', id: 'p1', meta: { security: [{ code: 'R' }] } }], generalPractitioner: [{ reference: '#p1' }] }, false],
    ];
    for (const [resource, valid] of cases) {
      expect(hasError(resource)).toBe(!valid);
      expect(medplumWouldAccept(resource)).toBe(valid);
    }
  });

  it('answers the invariants that combine two elements\' presence off the keys, as FHIRPath does', () => {
    loadDefinitions();
    const plan = (activity: Obj): Obj => ({ resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Patient/p' }, activity: [activity] });
    const order = (extra: Obj): Obj => ({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/p' }, ...extra });
    const answer = { valueString: 'a' };
    const consent = (extra: Obj, scope: string): Obj => ({
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: scope }] },
      category: [{ text: 'c' }],
      policyRule: { text: 'r' },
      ...extra,
    });
    const cases: [Obj, boolean][] = [
      // cpl-3: detail.empty() or reference.empty()
      [plan({ detail: { status: 'scheduled' } }), true],
      [plan({ reference: { reference: 'ServiceRequest/s' } }), true],
      [plan({ detail: { status: 'scheduled' }, reference: { reference: 'ServiceRequest/s' } }), false],
      // prr-1: orderDetail.empty() or code.exists()
      [order({ code: { text: 'x' }, orderDetail: [{ text: 'd' }] }), true],
      [order({ orderDetail: [{ text: 'd' }] }), false],
      [order({}), true],
      // qrs-1 on an item: (answer.exists() and item.exists()).not()
      [{ resourceType: 'QuestionnaireResponse', status: 'completed', item: [{ linkId: '1', answer: [answer] }] }, true],
      [{ resourceType: 'QuestionnaireResponse', status: 'completed', item: [{ linkId: '1', answer: [answer], item: [{ linkId: '2', answer: [answer] }] }] }, false],
      // ppc-1: policy.exists() or policyRule.exists()
      [{ resourceType: 'Consent', status: 'active', scope: { text: 's' }, category: [{ text: 'c' }], policyRule: { text: 'r' } }, true],
      [{ resourceType: 'Consent', status: 'active', scope: { text: 's' }, category: [{ text: 'c' }] }, false],
      // ppc-2 to ppc-5: patient.exists() or scope.coding.where(system='something' and code='…').exists().not()
      // (R4 names the system 'something', so no real coding matches and they hold with or without a patient).
      [consent({ patient: { reference: 'Patient/p' } }, 'patient-privacy'), true],
      [consent({}, 'patient-privacy'), true],
      [{ ...consent({}, 'treatment'), scope: { coding: [{ system: 'something', code: 'treatment' }] } }, false],
      [{ ...consent({ patient: { reference: 'Patient/p' } }, 'treatment'), scope: { coding: [{ system: 'something', code: 'treatment' }] } }, true],
    ];
    for (const [resource, valid] of cases) {
      expect(hasError(resource), JSON.stringify(resource)).toBe(!valid);
      expect(medplumWouldAccept(resource), JSON.stringify(resource)).toBe(valid);
    }
  });

  it('leaves validateResource answers unchanged for invalid input (medplum still explains them)', () => {
    const bad = { ...validationFixtures.copy(validationFixtures.patient), birthDate: '2020-13-45', foo: 1 };
    expect(medplumWouldAccept(bad)).toBe(false);
    const issues = validateResource(bad);
    expect(issues.map((i) => i.expression?.[0])).toEqual(expect.arrayContaining(['Patient.birthDate', 'Patient.foo']));
  });

  it('leaves objects with inherited properties to medplum, and still takes bodies parsed the way requests are', () => {
    loadDefinitions();
    const { _birthDate, contained, managingOrganization, ...base } = validationFixtures.copy(validationFixtures.patient) as unknown as Obj;
    expect([_birthDate, contained, managingOrganization].every((v) => v !== undefined)).toBe(true);
    // medplum's validator reads properties through the prototype chain; the walk only sees own keys, so it
    // must decline an object that has any other prototype than a plain object's.
    const inherited = Object.assign(Object.create({ gender: 5 }) as Obj, base);
    expect(medplumWouldAccept(inherited)).toBe(false);
    // The request path (lossless parse, then plain numbers) builds plain objects: the fast path still applies.
    const parsed = plainNumbers(parseJsonBody(Buffer.from(JSON.stringify(base)), 64), 'Patient').plain as Obj;
    expect(medplumWouldAccept(parsed)).toBe(true);
  });
});

// The value limits share one schema walk with the structure checks (validate-resource.ts): these pin that a
// limit anywhere in the resource (nested backbone, datatype, contained resource, extension, unknown element)
// is still found, that a refusal answers with the limit issues alone (as when the limits had their own walk,
// before any other check), and that the checks' answers do not change when there is no limit to report.
import { describe, expect, it } from 'vitest';
import { validateResource } from '../../../src/fhir/validation/index.js';
import { MAX_ARRAY_ITEMS, MAX_STRING_BYTES } from '../../../src/fhir/validation/value-limits.js';

const big = 'x'.repeat(MAX_STRING_BYTES + 1);
const tooLong = (path: string, type: string) => ({
  severity: 'error',
  code: 'too-long',
  diagnostics: `A FHIR ${type} may not exceed 1 MB (1,048,576 bytes of UTF-8)`,
  expression: [path],
});

function only(resource: Record<string, unknown>): { code: string | undefined; expression: string[] | undefined; diagnostics: string | undefined }[] {
  return validateResource(resource).map((i) => ({ code: i.code, expression: i.expression, diagnostics: i.diagnostics }));
}

describe('value limits inside the one structure walk', () => {
  it('finds an over-long string in a nested backbone element and answers with it alone', () => {
    // contact.name.given is three levels down; the unknown key and the bad code before it are structure issues
    // the refusal must not report.
    const issues = only({
      resourceType: 'Patient',
      bogus: 1,
      gender: 'nope',
      contact: [{ name: { given: ['a', big] } }],
    });
    expect(issues).toEqual([{ code: 'too-long', expression: ['Patient.contact[0].name.given[1]'], diagnostics: tooLong('', 'string').diagnostics }]);
  });

  it('states the issue exactly as before (severity, code, text, expression)', () => {
    const out = validateResource({ resourceType: 'Patient', contact: [{ name: { family: big } }] });
    expect(out).toEqual([expect.objectContaining(tooLong('Patient.contact[0].name.family', 'string'))]);
  });

  it('finds out-of-range integers in nested datatypes, choice elements and contained resources, in walk order', () => {
    const issues = only({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      contained: [{ resourceType: 'Patient', multipleBirthInteger: 2 ** 31 }],
      component: [{ code: { text: 'c' }, valueInteger: -(2 ** 31) - 1 }],
      referenceRange: [{ low: { value: 1 }, text: 'r' }],
      extension: [{ url: 'http://example.org/x', valuePositiveInt: 0 }],
    });
    // The walk follows the JSON keys in order.
    expect(issues.map((i) => [i.code, i.expression?.[0]])).toEqual([
      ['value', 'Observation.contained[0].multipleBirth.ofType(integer)'],
      ['value', 'Observation.component[0].value.ofType(integer)'],
      ['value', 'Observation.extension[0].value.ofType(positiveInt)'],
    ]);
  });

  it('caps unknown elements nested in a known one', () => {
    const issues = only({ resourceType: 'Patient', name: [{ family: 'f', nickname: big }] });
    expect(issues).toEqual([{ code: 'too-long', expression: ['Patient.name[0].nickname'], diagnostics: 'A string may not exceed 1 MB (1,048,576 bytes of UTF-8)' }]);
  });

  it('refuses an over-long nested array before any walk', () => {
    const given = Array.from({ length: MAX_ARRAY_ITEMS + 1 }, () => 'g');
    const issues = only({ resourceType: 'Patient', bogus: 1, contact: [{ name: { given } }] });
    expect(issues).toEqual([
      { code: 'too-costly', expression: ['Patient.contact[0].name.given'], diagnostics: `An element may repeat at most ${MAX_ARRAY_ITEMS} times; this one has ${MAX_ARRAY_ITEMS + 1}` },
    ]);
  });

  it('still reports every structure issue when no limit is crossed (a limit-sized value is not a limit)', () => {
    const atLimit = 'y'.repeat(MAX_STRING_BYTES);
    const issues = only({ resourceType: 'Patient', bogus: 1, gender: 'nope', birthDate: '2026-02-30', contact: [{ name: { family: atLimit } }] });
    expect(issues.map((i) => i.expression?.[0]).sort()).toEqual(['Patient.birthDate', 'Patient.bogus', 'Patient.gender']);
  });
});

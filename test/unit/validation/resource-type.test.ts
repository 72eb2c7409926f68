import { describe, expect, it } from 'vitest';
import { validateResource } from '../../../src/fhir/validation/index.js';
import { patient } from './fixtures.js';

describe('validateResource: resourceType', () => {
  it.each([
    ['a string', 'Patient'],
    ['an array', [patient]],
    ['null', null],
    ['a number', 42],
  ])('rejects %s as the resource', (_label, body) => {
    const issues = validateResource(body);
    expect(issues).toEqual([expect.objectContaining({ severity: 'error', code: 'structure', diagnostics: 'The resource must be a JSON object' })]);
  });

  it('rejects a missing resourceType', () => {
    const issues = validateResource({ name: [{ family: 'Lee' }] });
    expect(issues).toEqual([expect.objectContaining({ severity: 'error', code: 'required' })]);
  });

  it.each(['Foo', 'DomainResource', 'Resource', 'HumanName', 'patient'])('rejects the non-resource type %s', (rt) => {
    const issues = validateResource({ resourceType: rt });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', code: 'invalid' });
    expect(issues[0]?.diagnostics).toContain(`"${rt}"`);
  });

  it('rejects a non-string resourceType', () => {
    expect(validateResource({ resourceType: 5 })).toEqual([expect.objectContaining({ severity: 'error', code: 'invalid' })]);
  });

  it('rejects a body whose type differs from the URL type', () => {
    expect(validateResource(patient, { expectedType: 'Observation' })).toEqual([
      {
        severity: 'error',
        code: 'invalid',
        diagnostics: "resourceType 'Patient' does not match the URL type 'Observation'",
      },
    ]);
  });

  it('accepts a body whose type matches the URL type', () => {
    expect(validateResource(patient, { expectedType: 'Patient' })).toEqual([]);
  });
});

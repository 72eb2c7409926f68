import { describe, expect, it } from 'vitest';
import { FhirError } from '../../../src/fhir/outcome.js';
import { asClientFault, mapClientFaults } from '../../../src/storage/client-faults.js';

const pgError = (code: string) => Object.assign(new Error('database says no'), { code });

describe('client-caused database errors', () => {
  it.each([
    ['22021', 'invalid'],
    ['22P05', 'invalid'],
    ['54000', 'too-costly'],
    ['54001', 'too-costly'],
  ])('SQLSTATE %s becomes a 400 %s OperationOutcome', async (code, issueCode) => {
    const mapped = asClientFault(pgError(code));
    expect(mapped).toBeInstanceOf(FhirError);
    expect((mapped as FhirError).status).toBe(400);
    expect((mapped as FhirError).issues[0]!.code).toBe(issueCode);
    await expect(mapClientFaults(Promise.reject(pgError(code)))).rejects.toBeInstanceOf(FhirError);
  });

  it('leaves server faults alone', () => {
    for (const err of [pgError('42P01'), pgError('40001'), new TypeError('x'), 'text']) expect(asClientFault(err)).toBe(err);
  });
});

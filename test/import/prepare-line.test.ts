// prepareLine's per-line checks that have a cheaper route than walking the parsed value must refuse exactly
// what the walk refuses.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { prepareLine } from '../../src/import/prepare.js';

const options = { resourceType: 'Patient', maxJsonDepth: 64, baseUrls: [] };
const line = (text: string) => prepareLine(Buffer.from(text), 1, text.length, options);

describe('prepareLine', () => {
  beforeAll(() => loadDefinitions());

  it('refuses a NUL (a \\u0000 escape) in a value or a key, naming where, and accepts the escaped backslash text', () => {
    const inValue = line('{"resourceType":"Patient","id":"p1","name":[{"family":"a\\u0000b"}]}');
    expect(inValue.ok).toBe(false);
    expect(!inValue.ok && inValue.outcome.issue?.[0]).toMatchObject({ code: 'invalid', expression: ['name[0].family'] });
    const inKey = line('{"resourceType":"Patient","id":"p1","x\\u0000":1}');
    expect(inKey.ok).toBe(false);
    expect(!inKey.ok && inKey.outcome.issue?.[0]?.diagnostics).toMatch(/NUL/);
    // A backslash followed by the text u0000 is no NUL.
    const text = line('{"resourceType":"Patient","id":"p1","name":[{"family":"a\\\\u0000b"}]}');
    expect(text.ok).toBe(true);
    expect(text.ok && text.resource).toMatchObject({ name: [{ family: 'a\\u0000b' }] });
  });
});

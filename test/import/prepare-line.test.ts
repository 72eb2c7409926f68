// prepareLine's per-line checks that have a cheaper route than walking the parsed value must refuse exactly
// what the walk refuses.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { plainNumbers } from '../../src/fhir/number-text.js';
import { parseJsonBody } from '../../src/http/json-body.js';
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

  // plainNumbers' walk is skipped when the parse found no number text JavaScript would respell: every line must
  // get what the walk gives (the texts, the plain numbers, the refusal of a number that cannot be represented).
  it('keeps the number texts and refusals of the plainNumbers walk, with and without respelled numbers', () => {
    const lines = [
      '{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"},"component":[{"code":{"text":"a"},"valueInteger":7},{"code":{"text":"b"},"valueQuantity":{"value":1e2}}]}',
      '{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.5,"unit":"mg"},"component":[{"code":{"text":"a"},"valueInteger":7}]}',
      '{"resourceType":"Observation","id":"o3","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e400}}',
      '{"resourceType":"Observation","id":"o4","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e-400}}',
      '{"resourceType":"Observation","id":"o5","status":"final","code":{"text":"x"},"valueQuantity":{"value":-0.0}}',
    ];
    const observation = { ...options, resourceType: 'Observation' };
    const seen: boolean[] = [];
    for (const text of lines) {
      const prepared = prepareLine(Buffer.from(text), 1, text.length, observation);
      let expected: unknown;
      try {
        expected = plainNumbers(parseJsonBody(Buffer.from(text), 64) as object, 'Observation');
      } catch (err) {
        expected = (err as { issues: unknown }).issues;
      }
      seen.push(prepared.ok);
      if (prepared.ok) expect({ plain: prepared.resource, texts: prepared.texts }).toEqual(expected);
      else expect(prepared.outcome.issue).toEqual(expected);
    }
    expect(seen).toEqual([true, true, false, false, true]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseLossless, plainNumbers, stringifyWithTexts } from '../../src/fhir/number-text.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { scanJson } from '../../src/http/json-depth.js';

describe('number texts', () => {
  it('round-trips every number text exactly, canonical ones as plain numbers', () => {
    const text = '{"a":[1.00,2,-0,1e2,{"b":66.899999999999991}],"c":"1.00","d":0.1,"e":12345678901234567890}';
    const { plain, texts } = plainNumbers(parseLossless(text), 'X');
    expect(plain).toEqual({ a: [1, 2, -0, 100, { b: 66.89999999999999 }], c: '1.00', d: 0.1, e: 12345678901234567000 });
    expect(texts.map((t) => t.text)).toEqual(['1.00', '-0', '1e2', '66.899999999999991', '12345678901234567890']);
    expect(stringifyWithTexts(plain, texts)).toBe(text);
  });

  it('leaves a number the server changed as the server wrote it, and never touches its input', () => {
    const { plain, texts } = plainNumbers(parseLossless('{"a":1.50,"b":[2.0]}'), 'X');
    const changed = { ...(plain as Record<string, unknown>), a: 7 };
    expect(stringifyWithTexts(changed, texts)).toBe('{"a":7,"b":[2.0]}');
    expect(plain).toEqual({ a: 1.5, b: [2] });
  });

  it('refuses numbers that overflow or underflow, naming the element', () => {
    for (const n of ['1e400', '-1e400', '1e-400', '0.0000e-999999']) {
      try {
        plainNumbers(parseLossless(`{"x":{"v":[${n}]}}`), 'Basic');
        if (n.startsWith('0.0000')) continue; // zero written with an exponent is still zero
        expect.unreachable(n);
      } catch (err) {
        expect(err).toBeInstanceOf(FhirError);
        expect((err as FhirError).issues[0]!.expression).toEqual(['Basic.x.v[0]']);
      }
    }
  });

  it('leaves malformed number tokens for JSON.parse to refuse, also inside strings untouched', () => {
    for (const bad of ['[01.0]', '[1.0true]', '[1.]', '[-]', '{"a":1.0,}']) expect(() => parseLossless(bad), bad).toThrow(SyntaxError);
    expect(parseLossless('{"a\\\\":"x\\"y:1.0"}')).toEqual({ 'a\\': 'x"y:1.0' });
  });
});

describe('JSON pre-scan', () => {
  it('counts members and array items outside strings', () => {
    expect(scanJson('{"a":[1,2],"b":{"c":"d:,e"}}', 8, 3)).toEqual({ tooDeep: false, tooLongArray: false, members: 3 });
    expect(scanJson('[[1,2,3],[4,5,6],["x,y,z,w"]]', 8, 3).tooLongArray).toBe(false);
    expect(scanJson('[[1,2,3],[4],[5],[6]]', 8, 3).tooLongArray).toBe(true);
    expect(scanJson('{"a":[1,2,3,4]}', 8, 3).tooLongArray).toBe(true);
  });
});

// JSON.parse has no nesting limit, and the validator and search extractor recurse over the parsed
// value, so a body like '[[[[…' nested a million deep must be refused before parsing. This is a single
// linear scan that only tracks string state and bracket depth; lossless-json does the parsing. It also
// counts member separators (':' outside strings), which json-body.ts compares with the parsed keys to
// find duplicate keys.

import { endOfString } from '../fhir/json-strings.js';

export interface JsonScan {
  tooDeep: boolean;
  /** An array with more than maxArrayItems items (checked only when the nesting is within limit). */
  tooLongArray: boolean;
  /** Object members seen (valid only when the text parses). */
  members: number;
}

/**
 * Also counts array items (separators at array level + 1), so an array past maxArrayItems is refused
 * before JSON.parse spends hundreds of milliseconds building it (150,000 names: ~400 ms of parse alone).
 */
export function scanJson(text: string, limit: number, maxArrayItems = Infinity): JsonScan {
  let depth = 0;
  let members = 0;
  // Per open bracket: -1 for an object, else the separators seen so far in that array.
  const separators = new Int32Array(limit + 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = endOfString(text, i);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return { tooDeep: true, tooLongArray: false, members };
      separators[depth] = c === 0x7b ? -1 : 0;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x3a /* : */) {
      members++;
    } else if (c === 0x2c /* , */ && depth > 0 && separators[depth]! >= 0) {
      if (++separators[depth]! + 1 > maxArrayItems) return { tooDeep: false, tooLongArray: true, members };
    }
  }
  return { tooDeep: false, tooLongArray: false, members };
}

/** True when the nesting depth of arrays/objects in a JSON text passes limit. */
export function exceedsJsonDepth(text: string, limit: number): boolean {
  return scanJson(text, limit).tooDeep;
}

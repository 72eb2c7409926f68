// JSON.parse has no nesting limit, and the validator and search extractor recurse over the parsed
// value, so a body like '[[[[…' nested a million deep must be refused before parsing. This is a single
// linear scan that only tracks string state and bracket depth; lossless-json does the parsing. It also
// counts member separators (':' outside strings), which json-body.ts compares with the parsed keys to
// find duplicate keys.

import { endOfString } from '../fhir/json-strings.js';

export interface JsonScan {
  tooDeep: boolean;
  /** Object members seen (valid only when the text parses). */
  members: number;
}

export function scanJson(text: string, limit: number): JsonScan {
  let depth = 0;
  let members = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = endOfString(text, i);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return { tooDeep: true, members };
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x3a /* : */) {
      members++;
    }
  }
  return { tooDeep: false, members };
}

/** True when the nesting depth of arrays/objects in a JSON text passes limit. */
export function exceedsJsonDepth(text: string, limit: number): boolean {
  return scanJson(text, limit).tooDeep;
}

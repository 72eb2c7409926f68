// JSON.parse has no nesting limit, and the validator and search extractor recurse over the parsed
// value, so a body like '[[[[…' nested a million deep must be refused before parsing. This is a single
// linear scan that only tracks string state and bracket depth; JSON.parse does the parsing.

/** Returns the maximum nesting depth of arrays/objects in a JSON text, stopping once it passes limit. */
export function exceedsJsonDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

// Reads an NDJSON file line by line from a byte offset, keeping each line's 1-based number and the
// offset just past it (what the import journal records as committed).
import { createReadStream } from 'node:fs';

export interface RawLine {
  /** 1-based line number in the file. */
  line: number;
  /** The line's bytes without the line break (a trailing CR is dropped too). */
  bytes: Buffer;
  /** Byte offset just past this line's line break. */
  end: number;
}

const NL = 0x0a;
const CR = 0x0d;

/** Non-blank lines from `offset` (which must be a line start); `firstLine` is the number of the line there. */
export async function* readLines(path: string, offset = 0, firstLine = 1): AsyncGenerator<RawLine> {
  let line = firstLine;
  let pos = offset;
  let carry: Buffer[] = [];
  let carryLength = 0;
  const emit = (bytes: Buffer, end: number): RawLine | undefined => {
    const n = line++;
    let len = bytes.length;
    if (len > 0 && bytes[len - 1] === CR) len--;
    const trimmed = bytes.subarray(0, len);
    return isBlank(trimmed) ? undefined : { line: n, bytes: trimmed, end };
  };
  for await (const chunk of createReadStream(path, { start: offset, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(NL, from); nl !== -1; nl = chunk.indexOf(NL, from)) {
      const piece = chunk.subarray(from, nl);
      const bytes = carryLength > 0 ? Buffer.concat([...carry, piece]) : piece;
      carry = [];
      carryLength = 0;
      pos += nl - from + 1;
      const out = emit(bytes, pos);
      if (out) yield out;
      from = nl + 1;
    }
    if (from < chunk.length) {
      const rest = chunk.subarray(from);
      carry.push(rest);
      carryLength += rest.length;
      pos += rest.length;
    }
  }
  if (carryLength > 0) {
    const out = emit(Buffer.concat(carry), pos);
    if (out) yield out;
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09) return false;
  return true;
}

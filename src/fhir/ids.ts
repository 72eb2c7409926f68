import { randomFillSync } from 'node:crypto';

// R4 id datatype: [A-Za-z0-9\-\.]{1,64}
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export const isValidId = (id: string): boolean => ID_PATTERN.test(id);

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
// Random bytes drawn in batches (one getrandom per 256 ids), as node:crypto's randomUUID does.
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = POOL_IDS;

/**
 * A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then 74 random bits.
 * Server-assigned ids are keys of btrees (resource (resource_type, id), the `_id` index rows,
 * audit_event id): ids that grow with time are inserted at the right edge of those indexes instead of
 * at a random page (docs/adr/0029). 74 random bits per millisecond keep them unguessable; the
 * creation time they reveal is the resource's meta.lastUpdated of version 1.
 */
export function timeOrderedUuid(now: number = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const o = 16 * next++;
  const b = pool;
  // Milliseconds fit in 48 bits until the year 10889; split so that no step exceeds 32-bit integers.
  const high = Math.floor(now / 0x1000000);
  const low = now % 0x1000000;
  return (
    HEX[(high >>> 16) & 0xff]! +
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    HEX[(low >>> 16) & 0xff]! +
    '-' +
    HEX[(low >>> 8) & 0xff]! +
    HEX[low & 0xff]! +
    '-' +
    HEX[0x70 | (b[o + 6]! & 0x0f)]! +
    HEX[b[o + 7]!]! +
    '-' +
    HEX[0x80 | (b[o + 8]! & 0x3f)]! +
    HEX[b[o + 9]!]! +
    '-' +
    HEX[b[o + 10]!]! +
    HEX[b[o + 11]!]! +
    HEX[b[o + 12]!]! +
    HEX[b[o + 13]!]! +
    HEX[b[o + 14]!]! +
    HEX[b[o + 15]!]!
  );
}

export const newId = (): string => timeOrderedUuid();

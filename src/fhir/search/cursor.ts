// The opaque `_cursor` value of next/previous links: base64url JSON of a SearchCursor.
import { badRequest } from '../outcome.js';
import type { SearchCursor } from './types.js';

export function encodeCursor(cursor: SearchCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Throws 400 for anything that is not a cursor this server issued (tampering included). */
export function decodeCursor(text: string): SearchCursor {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('Invalid _cursor');
  }
  if (typeof raw !== 'object' || raw === null) throw badRequest('Invalid _cursor');
  const c = raw as Record<string, unknown>;
  if (!isCount(c.maxRid) || !isCount(c.offset)) throw badRequest('Invalid _cursor');
  const out: SearchCursor = { maxRid: c.maxRid, offset: c.offset };
  if (c.afterRid !== undefined) {
    if (!isCount(c.afterRid)) throw badRequest('Invalid _cursor');
    out.afterRid = c.afterRid;
  }
  if (c.beforeRid !== undefined) {
    if (!isCount(c.beforeRid)) throw badRequest('Invalid _cursor');
    out.beforeRid = c.beforeRid;
  }
  return out;
}

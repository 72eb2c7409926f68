import { describe, expect, it } from 'vitest';
import type { StoredVersion } from '../../src/fhir/repository.js';
import { ReadCache } from '../../src/storage/read-cache.js';

const version = (id: string, chars: number): StoredVersion => ({
  resourceType: 'Binary',
  id,
  versionId: 1,
  lastUpdated: '2026-01-01T00:00:00Z',
  deleted: false,
  content: 'x'.repeat(chars),
});

describe('ReadCache byte bound', () => {
  it('evicts the least recently used versions once the held JSON exceeds the byte budget', () => {
    const cache = new ReadCache(100, 1000);
    for (const id of ['a', 'b', 'c', 'd']) cache.set(id, version(id, 100));
    cache.get('a'); // a becomes most recently used
    for (const id of ['e', 'f', 'g', 'h', 'i', 'j']) cache.set(id, version(id, 100));
    // 10 entries of 100 = the budget; one more evicts the oldest (b), not the recently read a.
    cache.set('k', version('k', 100));
    expect(cache.heldBytes).toBe(1000);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.id).toBe('a');
  });

  it('does not cache a version larger than an eighth of the budget, and keeps the rest', () => {
    const cache = new ReadCache(100, 1000);
    cache.set('small', version('small', 100));
    cache.set('big', version('big', 126));
    expect(cache.get('big')).toBeUndefined();
    expect(cache.get('small')?.id).toBe('small');
    expect(cache.heldBytes).toBe(100);
  });

  it('keeps its byte count right through replacements, deletes and clear', () => {
    const cache = new ReadCache(100, 1000);
    cache.set('a', version('a', 100));
    cache.set('a', version('a', 50));
    expect(cache.heldBytes).toBe(50);
    cache.delete('a');
    expect(cache.heldBytes).toBe(0);
    cache.set('b', version('b', 20));
    cache.clear();
    expect(cache.heldBytes).toBe(0);
    expect(cache.size).toBe(0);
  });
});

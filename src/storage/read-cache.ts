// A bounded LRU of current resource versions for the embedded store. PGlite is one connection in one
// process, so every write goes through this process's ResourceRepository and the cache can be exact:
// a key is dropped when a transaction writes it (before commit) and again when that transaction ends,
// and reads that miss go to the database, which on PGlite waits for any open transaction to finish.
// Not used with PostgreSQL, where other server instances write too (see docs/adr/0004).
import type { StoredVersion } from '../fhir/repository.js';

export class ReadCache {
  private readonly entries = new Map<string, StoredVersion>();

  constructor(private readonly maxEntries: number) {}

  static key(resourceType: string, id: string): string {
    return `${resourceType}/${id}`;
  }

  get(key: string): StoredVersion | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: StoredVersion): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

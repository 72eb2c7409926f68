// A bounded LRU of current resource versions (see docs/adr/0004). A key is dropped when a transaction
// writes it (before commit) and again when that transaction ends; on PostgreSQL also when any Concord
// instance's write to it commits (LISTEN/NOTIFY). Every drop bumps `generation`, and a read that missed
// only fills the cache if no drop happened while it read, so a stale row never lands after its
// invalidation.
import type { StoredVersion } from '../fhir/repository.js';

export class ReadCache {
  private readonly entries = new Map<string, StoredVersion>();
  generation = 0;
  /** False while coherence cannot be guaranteed (PostgreSQL listener not connected). */
  enabled = true;

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
    this.generation++;
    this.entries.delete(key);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

// A bounded LRU of current resource versions (see docs/adr/0004). A key is dropped when a transaction
// writes it (before commit) and again when that transaction ends; on PostgreSQL also when any Concord
// instance's write to it commits (LISTEN/NOTIFY). Every drop bumps `generation`, and a read that missed
// only fills the cache if no drop happened while it read, so a stale row never lands after its
// invalidation.
// The cache is bounded by bytes as well as entries: 10,000 entries of typical resources are a few MB,
// but a single stored Bundle may be tens of MB, and 10,000 of those would hold gigabytes.
import type { StoredVersion } from '../fhir/repository.js';

export class ReadCache {
  private readonly entries = new Map<string, StoredVersion>();
  private bytes = 0;
  generation = 0;
  /** False while coherence cannot be guaranteed (PostgreSQL listener not connected). */
  enabled = true;

  constructor(
    private readonly maxEntries: number,
    /** Total JSON text held (UTF-16 code units); a version larger than an eighth of it is not cached. */
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  private static sizeOf(value: StoredVersion): number {
    return value.content?.length ?? 0;
  }

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
    this.remove(key);
    const size = ReadCache.sizeOf(value);
    if (size > this.maxBytes / 8) return;
    this.entries.set(key, value);
    this.bytes += size;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.remove(oldest);
    }
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.bytes -= ReadCache.sizeOf(old);
    this.entries.delete(key);
  }

  delete(key: string): void {
    this.generation++;
    this.remove(key);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** JSON text currently held (UTF-16 code units). */
  get heldBytes(): number {
    return this.bytes;
  }
}

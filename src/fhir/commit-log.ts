// When this process saw its own writes commit, to tell a lost race (409) from a rule break (422).
//
// A rule rejection is a lost race when the resource it collides with was committed after the
// rejected request arrived. `meta.lastUpdated` cannot say that: it is stamped when the winner writes
// its rows (after taking the member lock), and the winner then still runs the rules and waits for the
// event loop before COMMIT, so under load it commits long after its lastUpdated; a loser arriving in
// between was told 422 although the winner was not committed when it arrived. This log keeps, per
// `Type/id`, the version a transaction of this process wrote and the instant the commit was seen
// (none yet: still committing, which a loser that already sees the row can only have raced).
// Versions written by another instance are not in it; for them lastUpdated remains the estimate.
/**
 * Epoch milliseconds with sub-millisecond precision, for arrivals and commits alike: a commit seen in the
 * same millisecond as a later request's arrival must still compare as before it.
 */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

export class CommitLog {
  private readonly entries = new Map<string, { lastUpdated: string; committedAt?: number }>();

  constructor(private readonly capacity = 20_000) {}

  /** A version about to be committed (inside its transaction). */
  writing(key: string, lastUpdated: string): void {
    this.entries.delete(key);
    this.entries.set(key, { lastUpdated });
    // Oldest first (Map keeps insertion order): an evicted entry only falls back to lastUpdated.
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  /** The transaction that wrote these versions ended: committed at `at`, or rolled back. */
  settled(versions: ReadonlyMap<string, string>, committed: boolean, at = preciseNow()): void {
    for (const [key, lastUpdated] of versions) {
      const e = this.entries.get(key);
      if (e?.lastUpdated !== lastUpdated) continue;
      if (committed) e.committedAt = at;
      else this.entries.delete(key);
    }
  }

  /**
   * Whether the version of `key` stamped `lastUpdated` was committed at or after `instant` (epoch ms);
   * undefined when this process did not write that version.
   */
  committedSince(key: string, lastUpdated: string, instant: number): boolean | undefined {
    const e = this.entries.get(key);
    if (e?.lastUpdated !== lastUpdated) return undefined;
    return e.committedAt === undefined || e.committedAt > instant;
  }
}

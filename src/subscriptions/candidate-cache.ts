// The registered Subscriptions a write matches its events against, held per instance so that a write
// picks its candidates in memory instead of querying subscription_channel inside its transaction
// (docs/adr/0011, addendum "candidates held per instance"). The guarantee of the query is kept: a write
// that begins after a registration change (create, update, status, delete) was acknowledged, on this or
// any other instance, sees it.
// - This instance's commits invalidate the list before the response is sent (the repository tells its
//   commit watchers, as it drops its own read-cache keys).
// - Other instances' commits arrive on the change channel ("Subscription/id"); before the list is trusted,
//   the repository proves that every commit made before the write began has been heard (the read fence,
//   docs/adr/0016). When that cannot be proven (listener down, sync failed) the caller queries.
// - A reload runs one query; concurrent writes share it. It is installed only if nothing was invalidated
//   while it ran (generation), so a reload racing a change never leaves stale data behind.
import type { WriteTx } from '../fhir/repository.js';
import type { Candidate } from './store.js';

/** What a per-instance cache hears of commits (implemented by the resource repository). */
export interface CommitWatcher {
  /** A commit, on this or another instance, wrote this resource ("Type/id"). */
  onChange(key: string): void;
  /** From now on every commit is heard (PostgreSQL: the listener (re)connected; PGlite: at once). */
  onConnected(): void;
  /** Commits may be missed until onConnected. */
  onLost(): void;
}

export interface CommitFeed {
  watchCommits(watcher: CommitWatcher): void;
  /** True once every commit made before the call has reached the watchers; false when unprovable. */
  heardEarlierCommits(): Promise<boolean>;
}

/**
 * Reads every registered Subscription that is not off, ordered by id, on the write's own connection:
 * a pool connection could be the one the write holds (PGlite has just one), and read committed gives
 * each statement a fresh snapshot, so the result is as new as the moment it ran.
 */
export type CandidateLoader = (tx: WriteTx) => Promise<Candidate[]>;

interface Reload {
  generation: number;
  promise: Promise<readonly Candidate[]>;
}

export class CandidateCache {
  private entries: readonly Candidate[] | undefined;
  /** Bumped by every invalidation: a reload started before one must not be installed. */
  private generation = 0;
  private coherent = false;
  private reload: Reload | undefined;
  /** Reloads that ran (for tests and the benchmark). */
  reloads = 0;

  constructor(
    private readonly load: CandidateLoader,
    private readonly feed: CommitFeed,
  ) {
    feed.watchCommits({
      onChange: (key) => {
        if (key.startsWith('Subscription/')) this.invalidate();
      },
      onConnected: () => {
        this.invalidate();
        this.coherent = true;
      },
      onLost: () => {
        this.coherent = false;
        this.invalidate();
      },
    });
  }

  private invalidate(): void {
    this.generation++;
    this.entries = undefined;
  }

  /**
   * Every registered Subscription (not off) as of a moment after each commit made before this call;
   * undefined when that cannot be proven, and the caller must query. A reload runs in `tx`; its
   * failure is that transaction's own (thrown), while writes that only joined it query instead.
   */
  async current(tx: WriteTx): Promise<readonly Candidate[] | undefined> {
    if (!this.coherent || !(await this.feed.heardEarlierCommits()) || !this.coherent) return undefined;
    if (this.entries) return this.entries;
    // A reload begun before the latest invalidation may miss the change it announced: not joined.
    const joined = this.reload?.generation === this.generation ? this.reload : undefined;
    if (joined) return joined.promise.catch(() => undefined);
    const reload = this.startReload(tx);
    return reload.promise;
  }

  private startReload(tx: WriteTx): Reload {
    const generation = this.generation;
    this.reloads++;
    const promise = this.load(tx).then((rows) => {
      if (this.coherent && this.generation === generation) this.entries = rows;
      return rows;
    });
    const reload = { generation, promise };
    const done = (): void => {
      if (this.reload === reload) this.reload = undefined;
    };
    promise.then(done, done);
    this.reload = reload;
    return reload;
  }
}

/** The candidates of one write: Subscriptions of its topics, and classic ones searching its types. */
export function pickCandidates(all: readonly Candidate[], topics: readonly string[], classicTypes: readonly string[]): Candidate[] {
  const t = new Set(topics);
  const c = new Set(classicTypes);
  return all.filter((s) => (s.topic !== undefined ? t.has(s.topic) : c.has(s.criteriaType)));
}

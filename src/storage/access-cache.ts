// Per-organization decisions "sees member M" for reads by id, so an authenticated read of a cached
// resource costs no query. Kept exact the way the read cache is (docs/adr/0004): a member's decisions
// are dropped when a transaction writes rows of that member's access (at write time and again when it
// ends), on PostgreSQL also when any instance's such write commits (the change listener), and a lookup
// that missed only fills the cache if nothing was dropped while it ran. Each decision also carries the
// instant it may change by itself (a period starting or ending) and is not used from then on.
import type { MemberDecision } from './member-access.js';

interface Entry {
  visible: boolean;
  until: number;
}

export class AccessCache {
  private readonly byOrg = new Map<string, Map<string, Entry>>();
  private entries = 0;
  generation = 0;
  /** False while coherence cannot be guaranteed (PostgreSQL listener not connected). */
  enabled = true;

  constructor(private readonly maxEntries = 100_000) {}

  /** The cached decision, if it still holds at `now`. */
  get(organization: string, memberId: string, now: number): boolean | undefined {
    const hit = this.byOrg.get(organization)?.get(memberId);
    return hit && now < hit.until ? hit.visible : undefined;
  }

  fill(organization: string, decisions: readonly MemberDecision[], generation: number): void {
    if (!this.enabled || generation !== this.generation) return;
    // Rarely reached (every member of every organization): starting over is simpler than an LRU.
    if (this.entries + decisions.length > this.maxEntries) this.clear();
    let org = this.byOrg.get(organization);
    if (!org) {
      org = new Map<string, Entry>();
      this.byOrg.set(organization, org);
    }
    for (const d of decisions) {
      if (!org.has(d.memberId)) this.entries++;
      org.set(d.memberId, { visible: d.visible, until: d.until });
    }
  }

  /** memberId '*' drops every decision. */
  invalidate(memberId: string): void {
    this.generation++;
    if (memberId === '*') return this.drop();
    for (const org of this.byOrg.values()) if (org.delete(memberId)) this.entries--;
  }

  clear(): void {
    this.generation++;
    this.drop();
  }

  private drop(): void {
    this.byOrg.clear();
    this.entries = 0;
  }
}

// Read-after-write across Concord instances for the read cache (docs/adr/0016). A cache hit on this
// instance is only safe if every change committed before the read began has reached this instance's
// listener. PostgreSQL delivers notifications to a listener in commit order, so a `sync` message this
// instance sends and then hears back proves it: every commit before the send has been heard (and its
// key dropped) once the echo arrives. That costs a round trip, so it is paid only while other instances
// may be writing: each instance announces itself every HEARTBEAT_MS over the pool, and an instance that
// has heard no other one for PEER_TTL_MS (and hears its own announcements promptly) serves hits at once.
//
// Why "alone" is safe: a newcomer finishes starting (`ready`) only SETTLE_MS after its first
// announcement committed, and an instance that believes it is alone serves a hit only while its own
// latest echoed announcement was sent less than FRESH_MS < SETTLE_MS ago, so it has heard every commit
// older than that, the newcomer's announcement included, before the newcomer's first write can commit.
import { randomUUID } from 'node:crypto';

export const HEARTBEAT_MS = 100;
const FRESH_MS = 250;
const SETTLE_MS = 300;
/** Generous: a peer's announcements can queue behind a full pool (DB_ACQUIRE_TIMEOUT_MS) while it writes. */
const PEER_TTL_MS = 30_000;
const SYNC_TIMEOUT_MS = 1_000;

/** Control messages share the change channel; resource keys ("Type/id") never start with "!". */
const PREFIX = '!';

export interface FenceTransport {
  /** Sends over any pooled connection (the announcement must not depend on the listener). */
  announce(payload: string): Promise<void>;
  /** Sends over the listening connection (a sync must not queue behind a full pool). */
  sync(payload: string): Promise<void>;
}

interface Barrier {
  n: number;
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

export class ReadFence {
  readonly instanceId = randomUUID();
  private readonly peers = new Map<string, number>();
  private listeningSince: number | undefined;
  /** Send time of the newest own announcement heard back. */
  private echoedSentAt: number | undefined;
  private readonly sentAt = new Map<number, number>();
  private beat = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private firstEcho: { promise: Promise<void>; resolve(): void } | undefined;
  private syncs = 0;
  private inFlight: Barrier | undefined;
  private queued: Barrier | undefined;

  constructor(
    private readonly transport: FenceTransport,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts announcing this instance; resolves once the first announcement was heard back plus SETTLE_MS. */
  async start(listening: boolean): Promise<void> {
    if (this.heartbeat) return;
    let resolve!: () => void;
    this.firstEcho = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    this.heartbeat = setInterval(() => void this.announce(), HEARTBEAT_MS);
    this.heartbeat.unref();
    await this.announce();
    // Without a listener this instance caches nothing, but others must still learn that it writes.
    if (listening) await Promise.race([this.firstEcho.promise, new Promise((resolve) => setTimeout(resolve, SYNC_TIMEOUT_MS).unref())]);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  }

  private async announce(): Promise<void> {
    const n = ++this.beat;
    this.sentAt.set(n, this.now());
    if (this.sentAt.size > 64) this.sentAt.delete(n - 64);
    await this.transport.announce(`${PREFIX}hb ${this.instanceId} ${n}`).catch(() => undefined);
  }

  /** The listener (re)connected: what it heard before may be incomplete. */
  connected(): void {
    this.listeningSince = this.now();
    this.echoedSentAt = undefined;
  }

  /** The listener was lost: nothing can be proven until it is back. */
  lost(): void {
    this.listeningSince = undefined;
    this.echoedSentAt = undefined;
    const err = new Error('change listener lost');
    this.inFlight?.reject(err);
    this.queued?.reject(err);
    this.inFlight = this.queued = undefined;
  }

  /** Handles a control message; false for a resource key. */
  onMessage(payload: string): boolean {
    if (!payload.startsWith(PREFIX)) return false;
    const [kind, id, n] = payload.slice(1).split(' ');
    if (id !== this.instanceId) {
      if (kind === 'hb' && id) this.peers.set(id, this.now());
      return true;
    }
    if (kind === 'hb') {
      const sent = this.sentAt.get(Number(n));
      if (sent !== undefined && (this.echoedSentAt === undefined || sent > this.echoedSentAt)) this.echoedSentAt = sent;
      this.firstEcho?.resolve();
    } else if (kind === 'sync' && this.inFlight && Number(n) === this.inFlight.n) {
      this.inFlight.resolve();
      this.inFlight = undefined;
      this.sendQueued();
    }
    return true;
  }

  /** True when a cache hit may be served without a sync. */
  get alone(): boolean {
    const now = this.now();
    if (this.listeningSince === undefined || now - this.listeningSince < 2 * HEARTBEAT_MS) return false;
    if (this.echoedSentAt === undefined || now - this.echoedSentAt > FRESH_MS) return false;
    for (const [id, heard] of this.peers) {
      if (now - heard <= PEER_TTL_MS) return false;
      this.peers.delete(id);
    }
    return true;
  }

  /**
   * Resolves once every change committed before this call has been heard. Concurrent callers share one
   * sync: at most one is in flight and the next one collects whoever arrives meanwhile.
   */
  barrier(): Promise<void> {
    if (this.listeningSince === undefined) return Promise.reject(new Error('change listener not connected'));
    if (!this.queued) {
      this.queued = this.newBarrier();
      if (!this.inFlight) this.sendQueued();
    }
    return this.queued?.promise ?? this.inFlight!.promise;
  }

  private newBarrier(): Barrier {
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers fall back to the database; an unhandled rejection must not surface when nobody waits.
    promise.catch(() => undefined);
    return { n: ++this.syncs, promise, resolve, reject };
  }

  private sendQueued(): void {
    const barrier = this.queued;
    if (!barrier) return;
    this.queued = undefined;
    this.inFlight = barrier;
    const timer = setTimeout(() => {
      if (this.inFlight !== barrier) return;
      barrier.reject(new Error('sync timed out'));
      this.inFlight = undefined;
      this.sendQueued();
    }, SYNC_TIMEOUT_MS);
    timer.unref();
    void barrier.promise.then(() => clearTimeout(timer), () => clearTimeout(timer));
    this.transport.sync(`${PREFIX}sync ${this.instanceId} ${barrier.n}`).catch((err: unknown) => {
      if (this.inFlight !== barrier) return;
      barrier.reject(err instanceof Error ? err : new Error('sync failed'));
      this.inFlight = undefined;
      this.sendQueued();
    });
  }

  stop(): void {
    clearInterval(this.heartbeat);
    this.lost();
  }
}

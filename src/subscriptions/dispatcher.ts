// Delivers stored notifications to rest-hook endpoints (and activates websocket Subscriptions, whose
// notifications go out over the sockets bound to them: websocket-hub.ts). Any number of instances run a dispatcher over
// the same database: each Subscription is leased to one dispatcher at a time (SKIP LOCKED claim plus a
// lease longer than the receiver timeout), so deliveries for one Subscription never overlap and go out
// in event-number order. A failed batch stays in flight: the retry carries the same numbers and the
// same webhook-id. Retries back off exponentially with jitter until the retry budget is spent; then the
// Subscription goes to error with the reason and its events stay for $events and a later re-activation.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { notificationBundle, type NotificationContext, type NotificationType } from './notification.js';
import { webhookHeaders } from './signing.js';
import type { Acknowledgement, Claimed, DeliveryState, DeliveryStore, StoredNotification } from './store.js';
import type { SubscriptionState } from './subscription-config.js';

export type Post = (endpoint: string, headers: Record<string, string>, body: string, timeoutMs: number) => Promise<number>;

export interface DispatcherOptions {
  store: DeliveryStore;
  post: Post;
  notification: NotificationContext;
  /** Records a status the server decided (handshake outcome, retry budget spent) on the Subscription. */
  setStatus(id: string, status: SubscriptionState, error?: string): Promise<void>;
  retryBudgetMs: number;
  retryBaseMs: number;
  retryMaxDelayMs: number;
  timeoutMs: number;
  pollMs: number;
  retentionMs: number;
  /** Subscriptions served at once by this instance. */
  concurrency?: number;
  /** Delay between a wake-up and the claim, so concurrent commits share deliveries (ms). */
  coalesceMs?: number;
  /**
   * After a POST that emptied a Subscription's backlog, it is not served again for this long (ms): the
   * events that commit meanwhile go out together (up to backport-max-count) instead of one POST each.
   * A full batch is followed at once. Bounds the added latency; 0 turns it off.
   */
  batchWindowMs?: number;
  logger?: Logger | false;
  now?: () => Date;
}

/** Consecutive batches one worker sends for one Subscription before the claim picks again (docs/adr/0023). */
export const KEPT_BATCHES = 4;

export class Dispatcher {
  /**
   * Each worker leases under its own owner (this instance's id and the worker's number): a worker whose
   * lease ran out while it was stalled (a long pause) must not acknowledge or release what another
   * worker of the same instance claimed since; the store counts only the holder's word.
   */
  private readonly instance = randomUUID();
  private workersStarted = 0;
  private timer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private running = 0;
  private pending: NodeJS.Timeout | undefined;
  private rerun = false;
  private stopped = false;
  private readonly idle = new Set<() => void>();
  private readonly now: () => Date;

  constructor(private readonly o: DispatcherOptions) {
    this.now = o.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    this.stopListening = await this.o.store.onNotified?.(() => this.wake());
    this.timer = setInterval(() => this.wake(), this.o.pollMs);
    this.timer.unref();
    this.purgeTimer = setInterval(() => void this.purge(), Math.min(this.o.retentionMs, 3_600_000));
    this.purgeTimer.unref();
    this.wake();
  }

  /**
   * Looks for work shortly (a commit stored notifications, another instance announced some, or the
   * poll). The short delay lets the notifications of concurrent commits share one delivery (up to
   * backport-max-count) instead of one HTTP request each.
   */
  wake(): void {
    if (this.stopped || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.startWorkers();
    }, this.o.coalesceMs ?? 5);
  }

  private startWorkers(): void {
    if (this.stopped) return;
    const workers = this.o.concurrency ?? 8;
    if (this.running >= workers) {
      this.rerun = true;
      return;
    }
    while (this.running < workers) {
      this.running++;
      void this.work().finally(() => {
        this.running--;
        if (this.running === 0) {
          for (const fn of this.idle) fn();
          if (this.rerun && !this.stopped) {
            this.rerun = false;
            this.startWorkers();
          }
        }
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pending);
    clearInterval(this.timer);
    clearInterval(this.purgeTimer);
    await this.stopListening?.();
    if (this.running > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private async work(): Promise<void> {
    const owner = `${this.instance}/${++this.workersStarted}`;
    // A delivered batch is acknowledged by the next claim, in the same statement and commit: one round
    // trip per POST instead of two (docs/adr/0011, addendum "delivery in one statement").
    let ack: Acknowledgement | undefined;
    // Batches in a row of the Subscription this worker served last: it keeps a busy Subscription for at
    // most KEPT_BATCHES, then lets the claim (oldest due first) choose, so other Subscriptions get their turn.
    let last: string | undefined;
    let inRow = 0;
    for (;;) {
      if (this.stopped) return this.acknowledge(owner, ack);
      let state: Claimed | undefined;
      try {
        if (ack) ack.keep = ack.keep === true && inRow < KEPT_BATCHES;
        state = await this.o.store.claim(owner, this.leaseMs(), ack);
        inRow = state && state.id === last ? inRow + 1 : 1;
        last = state?.id;
        // Events committed during the window woke nobody who could claim it: look again when it ends. The
        // hold counts from the claim's transaction, so the timer starts once it answered, never before.
        const holdMs = ack?.holdMs ?? 0;
        if (holdMs > 0) setTimeout(() => this.wake(), holdMs + 1).unref();
        ack = undefined;
      } catch (err) {
        this.log('warn', { err }, 'subscription claim failed');
        // The claim rolled back with the acknowledgement in it: recorded alone, or the batch would be sent again.
        return this.acknowledge(owner, ack);
      }
      if (!state) return;
      try {
        ack = await this.serve(owner, state);
      } catch (err) {
        this.log('error', { err, subscription: state.id }, 'subscription delivery failed unexpectedly');
        await this.o.store.release(state.id, owner, this.o.retryBaseMs).catch(() => undefined);
      }
    }
  }

  private async acknowledge(owner: string, ack: Acknowledgement | undefined): Promise<void> {
    if (!ack) return;
    await this.o.store.succeeded(ack.id, owner, { deliveredThrough: ack.deliveredThrough, handshakeDone: false }).catch((err: unknown) => {
      this.log('warn', { err, subscription: ack.id }, 'subscription acknowledgement failed; the lease expires and the batch is sent again');
    });
  }

  /** Longer than any send (every send is bounded by timeoutMs), so a live lease means a live sender. */
  private leaseMs(): number {
    return this.o.timeoutMs * 2 + 5000;
  }

  /** Serves a claimed Subscription; a delivered batch is answered for the next claim to acknowledge. */
  private async serve(owner: string, state: Claimed): Promise<Acknowledgement | undefined> {
    if (state.status === 'requested' && !state.handshakeDone) {
      await this.handshake(owner, state);
      return undefined;
    }
    if (state.status !== 'active' || state.channelType !== 'rest-hook') {
      await this.o.store.release(state.id, owner);
      return undefined;
    }
    if (state.eventsCount > state.deliveredThrough) return this.deliverEvents(owner, state);
    return this.heartbeat(owner, state);
  }

  private async handshake(owner: string, state: DeliveryState): Promise<void> {
    if (state.channelType === 'websocket') {
      // Nothing to call: the handshake goes over each socket when it binds (websocket-hub.ts). Sockets
      // on any instance deliver from the stored notifications; the dispatcher only activates.
      await this.o.store.succeeded(state.id, owner, { deliveredThrough: state.deliveredThrough, handshakeDone: true });
      await this.o.setStatus(state.id, 'active');
      return;
    }
    const result = await this.send(state, 'handshake', [], `${state.id}-handshake-${state.generation}`);
    if (result.ok) {
      await this.o.store.succeeded(state.id, owner, { deliveredThrough: state.deliveredThrough, handshakeDone: true });
      await this.o.setStatus(state.id, 'active');
      this.log('info', { subscription: state.id }, 'subscription handshake succeeded');
    } else {
      await this.o.store.failed(state.id, owner, { delayMs: this.o.retryBaseMs, error: result.error });
      await this.o.setStatus(state.id, 'error', `handshake failed: ${result.error}`);
      this.log('warn', { subscription: state.id, reason: result.error }, 'subscription handshake failed');
    }
  }

  private async deliverEvents(owner: string, state: Claimed): Promise<Acknowledgement | undefined> {
    const from = state.deliveredThrough + 1;
    const to = state.batchTo ?? Math.min(state.eventsCount, from + state.maxCount - 1);
    // The claim read this very range (batch_to, else the next max_count events) in its statement.
    const events = state.batch.length === to - from + 1 ? state.batch : await this.o.store.notifications(state.id, from, to);
    const result = await this.send(state, 'event-notification', events, to === from ? `${state.id}-${from}` : `${state.id}-${from}-${to}`);
    if (result.ok) {
      // Held only when this POST emptied the backlog the claim numbered: a resent failed batch (batch_to)
      // can be short while events wait behind it, and those follow at once like a full batch.
      const emptied = to >= state.eventsCount && to - from + 1 < state.maxCount;
      const holdMs = emptied ? (this.o.batchWindowMs ?? 0) : 0;
      // Not held: more events may be due at once, served under this lease if so (work() bounds how often).
      return { id: state.id, deliveredThrough: to, holdMs, keep: holdMs === 0 };
    }
    await this.retryLater(owner, state, result.error, to);
    return undefined;
  }

  private async heartbeat(owner: string, state: DeliveryState): Promise<Acknowledgement | undefined> {
    const result = await this.send(state, 'heartbeat', [], `${state.id}-heartbeat-${randomUUID()}`);
    if (result.ok) return { id: state.id, deliveredThrough: state.deliveredThrough };
    await this.retryLater(owner, state, result.error);
    return undefined;
  }

  private async retryLater(owner: string, state: DeliveryState, error: string, batchTo?: number): Promise<void> {
    const failingFor = state.failingSince ? this.now().getTime() - Date.parse(state.failingSince) : 0;
    const delayMs = backoff(state.attempts, this.o.retryBaseMs, this.o.retryMaxDelayMs);
    await this.o.store.failed(state.id, owner, { ...(batchTo !== undefined ? { batchTo } : {}), delayMs, error });
    if (failingFor >= this.o.retryBudgetMs) {
      const reason = `delivery failing for ${Math.round(failingFor / 1000)} s (retry budget spent): ${error}`;
      await this.o.setStatus(state.id, 'error', reason);
      this.log('warn', { subscription: state.id, reason: error, attempts: state.attempts + 1 }, 'subscription retry budget spent; status error');
    } else {
      this.log('info', { subscription: state.id, reason: error, attempts: state.attempts + 1, retryInMs: Math.round(delayMs) }, 'subscription delivery failed; will retry');
    }
  }

  private async send(state: DeliveryState, type: NotificationType, events: readonly StoredNotification[], webhookId: string): Promise<{ ok: true } | { ok: false; error: string }> {
    if (!state.endpoint) return { ok: false, error: 'no endpoint' };
    const now = this.now();
    const bundle = await notificationBundle(state, type, events, this.o.notification, now);
    const body = JSON.stringify(bundle);
    const headers: Record<string, string> = { ...customHeaders(state.headers), 'content-type': 'application/fhir+json', ...webhookHeaders(state.secret, webhookId, body, now) };
    // backport-timeout is the subscriber's wish, capped by the operator's timeout (which bounds the lease).
    const timeoutMs = Math.min(state.timeoutSeconds ? state.timeoutSeconds * 1000 : this.o.timeoutMs, this.o.timeoutMs);
    try {
      const status = await this.o.post(state.endpoint, headers, body, timeoutMs);
      return status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `receiver answered ${status}` };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : 'delivery failed' };
    }
  }

  private async purge(): Promise<void> {
    try {
      await this.o.store.purge(new Date(this.now().getTime() - this.o.retentionMs));
    } catch (err) {
      this.log('warn', { err }, 'subscription retention purge failed');
    }
  }

  private log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string): void {
    if (this.o.logger) this.o.logger[level](fields, msg);
  }
}

/** Exponential backoff with jitter: base * 2^attempts, capped, then a random 50-100 % of it. */
export function backoff(attempts: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempts, 30));
  return ceiling * (0.5 + Math.random() * 0.5);
}

function customHeaders(lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

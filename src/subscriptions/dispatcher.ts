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
import type { Acknowledgement, Claimed, DeliveryState, DeliveryStore, LeasedAcknowledgement, StoredNotification } from './store.js';
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
  /**
   * The most the batch window grows to (ms). The window after a POST is batchWindowMs for every
   * WINDOW_EVENTS events that POST carried: a Subscription whose events arrive one or two per window keeps
   * the short window (latency), one whose POSTs carry dozens waits longer and gets fewer, larger POSTs
   * (each POST costs a claim, a Bundle, a signature and the receiver's parse, whatever it carries).
   * At or below batchWindowMs the window does not grow.
   */
  batchWindowMaxMs?: number;
  logger?: Logger | false;
  now?: () => Date;
}

/** Events per POST that earn one more batchWindowMs of window (see batchWindowMaxMs). */
const WINDOW_EVENTS = 8;

/** The window after a POST of `events` that emptied its backlog: base per WINDOW_EVENTS events, within [base, max]. */
export function batchWindow(events: number, baseMs: number, maxMs: number): number {
  if (baseMs <= 0) return 0;
  return Math.min(Math.max(baseMs, maxMs), Math.round((baseMs * Math.max(events, WINDOW_EVENTS)) / WINDOW_EVENTS));
}

export class Dispatcher {
  /**
   * Leases are taken under a token per claim call (this instance's id and the call's number), and each
   * acknowledgement, failure or release names the token its Subscription was claimed under: a send whose
   * lease ran out while it was stalled (a long pause) and was claimed again since, by this instance or
   * another, is fenced out; the store counts only the holder's word.
   */
  private readonly instance = randomUUID();
  private calls = 0;
  private timer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private pending: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Subscriptions being served by this instance (each under its lease), by id. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Delivered batches not yet acknowledged: the next claim call carries them all. */
  private acks: LeasedAcknowledgement[] = [];
  /**
   * Delivered batches whose Subscription waits out its batch window, by id: the lease is kept until the
   * window ends, then one call acknowledges the batch (hold 0) and may claim the Subscription again, instead
   * of one call to acknowledge with the hold and another when the hold ends (docs/adr/0027, addendum
   * "acknowledged when the window ends").
   */
  private readonly held = new Map<string, { ack: LeasedAcknowledgement; until: number; timer: NodeJS.Timeout }>();
  /** The claim loop is running; `again`: something happened since its last call (a wake, a finished send). */
  private claiming: Promise<void> | undefined;
  private again = false;
  private readonly now: () => Date;

  constructor(private readonly o: DispatcherOptions) {
    this.now = o.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    this.stopListening = await this.o.store.onNotified?.((subscriptionIds) => this.wake(subscriptionIds));
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
   *
   * `subscriptionIds`: the Subscriptions the commit's events name (undefined: any). When this instance
   * holds every one of them, in flight or in its batch window, no claim could find them due: the end of
   * the send (which kicks) or of the window (whose call acknowledges and claims) takes their events; other
   * Subscriptions and other instances' events wake it with their own names, and the poll remains.
   */
  wake(subscriptionIds?: readonly string[]): void {
    if (this.stopped || this.pending) return;
    if (subscriptionIds && subscriptionIds.length > 0 && subscriptionIds.every((id) => this.inFlight.has(id) || this.held.has(id))) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.kick();
    }, this.o.coalesceMs ?? 5);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pending);
    clearInterval(this.timer);
    clearInterval(this.purgeTimer);
    await this.stopListening?.();
    await this.claiming;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
    // What was delivered meanwhile is acknowledged, and nothing more is claimed. A batch still in its window
    // is acknowledged with what is left of it: any instance claims the Subscription once it ends.
    const now = performance.now();
    for (const { ack, until, timer } of this.held.values()) {
      clearTimeout(timer);
      this.acks.push({ ...ack, holdMs: Math.max(0, Math.ceil(until - now)) });
    }
    this.held.clear();
    const acks = this.acks.splice(0);
    if (acks.length > 0) {
      await this.o.store.claimMany(`${this.instance}/${++this.calls}`, this.leaseMs(), acks, 0).catch(() => this.acknowledgeAlone(acks));
    }
  }

  /** Runs the claim loop, or asks the running one for one more call. */
  private kick(): void {
    if (this.stopped) return;
    this.again = true;
    if (this.claiming) return;
    this.claiming = this.claimLoop().finally(() => {
      this.claiming = undefined;
      // A kick between the loop's last look and here.
      if (this.again) this.kick();
    });
  }

  /**
   * One claim call at a time per instance (docs/adr/0027): it carries every acknowledgement that
   * accumulated since the last one and asks for as many Subscriptions as there are free slots, so the
   * Subscriptions of one wake-up share a delivery transaction (commit, round trip, positioning, the
   * claim's scan). Each claimed Subscription is then served on its own: a slow receiver holds its slot,
   * never the others. A call that filled every free slot is followed when a send finishes (it frees a
   * slot and kicks; a send whose batch waits out its window kicks when the window ends); one that claimed
   * less found nothing more due, until the next wake.
   */
  private async claimLoop(): Promise<void> {
    const slots = this.o.concurrency ?? 8;
    while (this.again && !this.stopped) {
      // Sends that finish in the same turn of the event loop (receivers answering together) share the call.
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Stopping: stop() acknowledges what is pending once the sends in flight are done.
      if (this.stopped) return;
      this.again = false;
      const free = slots - this.inFlight.size;
      if (free <= 0 && this.acks.length === 0) continue;
      const acks = this.acks.splice(0);
      const owner = `${this.instance}/${++this.calls}`;
      let claimed: Claimed[];
      try {
        claimed = await this.o.store.claimMany(owner, this.leaseMs(), acks, Math.max(free, 0));
      } catch (err) {
        this.log('warn', { err }, 'subscription claim failed');
        // The call rolled back with the acknowledgements in it: recorded alone, or the batches would be
        // sent again. The next wake (at the latest the poll) claims again.
        this.again = false;
        await this.acknowledgeAlone(acks);
        return;
      }
      for (const state of claimed) this.begin(owner, state);
    }
  }

  /** Serves one claimed Subscription on its own; when it is done its slot is free for the next call. */
  private begin(owner: string, state: Claimed): void {
    const served = this.serve(owner, state)
      .catch(async (err: unknown) => {
        this.log('error', { err, subscription: state.id }, 'subscription delivery failed unexpectedly');
        await this.o.store.release(state.id, owner, this.o.retryBaseMs).catch(() => undefined);
        return undefined;
      })
      .then((ack) => {
        this.inFlight.delete(state.id);
        if (ack && (ack.holdMs ?? 0) > 0 && !this.stopped) {
          // No call for the freed slot alone: a Subscription left due for want of slots is claimed by the
          // next call, at the latest when this window ends (whether anything else is due is not known here,
          // and a call to find out is the empty call this saves).
          this.hold({ ...ack, owner }, ack.holdMs!);
          return;
        }
        if (ack) this.acks.push({ ...ack, owner });
        this.kick();
      });
    this.inFlight.set(state.id, served);
  }

  /**
   * Keeps a delivered batch's lease until its batch window ends: nobody claims the Subscription meanwhile
   * (the lease, not next_attempt_at, holds it), so events committed meanwhile go out together when it ends.
   * Then the acknowledgement (hold 0) rides the next claim call, which may take the Subscription again.
   */
  private hold(ack: LeasedAcknowledgement, holdMs: number): void {
    const timer = setTimeout(() => this.endWindows(), holdMs);
    timer.unref();
    this.held.set(ack.id, { ack, until: performance.now() + holdMs, timer });
  }

  /**
   * Ends the window that is due and those ending within the coalescing delay: their acknowledgements share
   * one call instead of one call each a few ms apart (a window ends at most coalesceMs early).
   */
  private endWindows(): void {
    const by = performance.now() + (this.o.coalesceMs ?? 5);
    for (const [id, { ack, until, timer }] of this.held) {
      if (until > by) continue;
      clearTimeout(timer);
      this.held.delete(id);
      this.acks.push({ ...ack, holdMs: 0 });
    }
    this.kick();
  }

  private async acknowledgeAlone(acks: readonly LeasedAcknowledgement[]): Promise<void> {
    for (const ack of acks) {
      await this.o.store.succeeded(ack.id, ack.owner, { deliveredThrough: ack.deliveredThrough, handshakeDone: false }).catch((err: unknown) => {
        this.log('warn', { err, subscription: ack.id }, 'subscription acknowledgement failed; the lease expires and the batch is sent again');
      });
    }
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
    const count = to - from + 1;
    // The claim read this very range (batch_to, else the next max_count events) in its statement.
    const events = state.batch.length === count ? state.batch : await this.o.store.notifications(state.id, from, to);
    const result = await this.send(state, 'event-notification', events, to === from ? `${state.id}-${from}` : `${state.id}-${from}-${to}`);
    if (result.ok) {
      // Held only when this POST emptied the backlog the claim numbered: a resent failed batch (batch_to)
      // can be short while events wait behind it, and those follow at once like a full batch.
      const emptied = to >= state.eventsCount && count < state.maxCount;
      const holdMs = emptied ? batchWindow(count, this.o.batchWindowMs ?? 0, this.o.batchWindowMaxMs ?? 0) : 0;
      // Not held: more events may be due at once; the next claim call may take the Subscription again,
      // after those that waited longer (docs/adr/0027).
      return { id: state.id, deliveredThrough: to, holdMs };
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

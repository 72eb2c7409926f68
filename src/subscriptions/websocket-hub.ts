// The websocket channel (Backport IG): $get-ws-binding-token issues a short-lived, single-use token for
// one websocket Subscription (only its hash is stored, in the shared database, so any instance redeems
// it); a client sends `bind-with-token: <token>` on a socket held by any instance, gets a handshake
// Bundle, then the same notification Bundles as rest-hook. The instance holding the socket reads the
// stored notifications after the last number it sent (woken by commits here, by the other instances'
// NOTIFY, and by a poll), so numbers go out in order without gaps whichever instance wrote them.
import { createHash, randomBytes } from 'node:crypto';
import type { Parameters } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { FhirError, issue, notFound } from '../fhir/outcome.js';
import { notificationBundle, type NotificationContext, type NotificationType } from './notification.js';
import type { DeliveryState, StoredNotification, WebsocketStore } from './store.js';

/** What the hub needs of a socket (the HTTP layer adapts the `ws` socket to it). */
export interface HubSocket {
  /** Resolves once the text is handed to the socket; rejects when the socket is gone. */
  send(text: string): Promise<void>;
  close(code: number, reason: string): void;
}

export interface WebsocketHubOptions {
  store: WebsocketStore;
  notification: NotificationContext;
  tokenTtlMs: number;
  pollMs: number;
  /** A socket that has bound nothing after this long is closed (ms). */
  bindTimeoutMs?: number;
  logger?: Logger | false;
}

/** Close codes (RFC 6455): 1008 policy violation (refused binding), 1011 server error, 1001 going away. */
export const CloseCode = { refused: 1008, error: 1011, goingAway: 1001 } as const;

const BIND_PREFIX = 'bind-with-token:';

interface Binding {
  id: string;
  /** Last event number sent on this socket. */
  lastSent: number;
  lastSentAt: number;
  busy: boolean;
  again: boolean;
}

class Connection {
  readonly bindings = new Map<string, Binding>();
  closed = false;
  bindTimer: NodeJS.Timeout | undefined;
  constructor(readonly socket: HubSocket) {}
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const bindable = (s: DeliveryState | undefined): s is DeliveryState =>
  s !== undefined && s.channelType === 'websocket' && (s.status === 'active' || s.status === 'requested');

export class WebsocketHub {
  private readonly connections = new Set<Connection>();
  private timer: NodeJS.Timeout | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private stopped = false;

  constructor(private readonly o: WebsocketHubOptions) {}

  async start(): Promise<void> {
    this.stopListening = await this.o.store.onNotified?.(() => this.wake());
    this.timer = setInterval(() => this.wake(), this.o.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.stopListening?.();
    for (const c of this.connections) this.close(c, CloseCode.goingAway, 'server shutting down');
  }

  /** Bound Subscriptions on this instance (tests, diagnostics). */
  boundCount(): number {
    let n = 0;
    for (const c of this.connections) n += c.bindings.size;
    return n;
  }

  /** $get-ws-binding-token for one Subscription (the caller checked the client may read it). */
  async issueToken(id: string, websocketUrl: string, now = new Date()): Promise<Parameters> {
    const state = await this.o.store.state(id);
    if (!state) throw notFound(`Subscription/${id} is not known`);
    if (state.channelType !== 'websocket') {
      throw new FhirError(422, issue('invalid', `Subscription/${id} does not use the websocket channel`, { expression: ['Subscription.channel.type'] }));
    }
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.o.tokenTtlMs);
    await this.o.store.saveBindingToken(id, hashToken(token), expiresAt);
    return {
      resourceType: 'Parameters',
      parameter: [
        { name: 'token', valueString: token },
        { name: 'expiration', valueDateTime: expiresAt.toISOString() },
        { name: 'subscription', valueString: `Subscription/${id}` },
        { name: 'websocket-url', valueUrl: websocketUrl },
      ],
    };
  }

  /** A new socket: returns what the HTTP layer calls on each text message and on close. */
  connect(socket: HubSocket): { message(text: string): void; closed(): void } {
    const c = new Connection(socket);
    if (this.stopped) {
      socket.close(CloseCode.goingAway, 'server shutting down');
      return { message: () => undefined, closed: () => undefined };
    }
    this.connections.add(c);
    c.bindTimer = setTimeout(() => {
      if (c.bindings.size === 0) this.close(c, CloseCode.refused, 'no bind-with-token received');
    }, this.o.bindTimeoutMs ?? 30_000);
    c.bindTimer.unref();
    return {
      message: (text) => void this.message(c, text),
      closed: () => this.forget(c),
    };
  }

  /** Looks at every bound Subscription now (a commit, another instance's NOTIFY, or the poll). */
  wake(): void {
    if (this.stopped) return;
    for (const c of this.connections) for (const b of c.bindings.values()) void this.pump(c, b);
  }

  private async message(c: Connection, raw: string): Promise<void> {
    const text = raw.trim();
    if (!text.toLowerCase().startsWith(BIND_PREFIX)) {
      this.close(c, CloseCode.refused, `unknown message: send '${BIND_PREFIX} <token>'`);
      return;
    }
    const token = text.slice(BIND_PREFIX.length).trim();
    try {
      const id = token === '' ? undefined : await this.o.store.redeemBindingToken(hashToken(token));
      if (!id) return this.close(c, CloseCode.refused, 'invalid or expired binding token');
      const state = await this.o.store.state(id);
      if (!bindable(state)) return this.close(c, CloseCode.refused, `Subscription/${id} is not an active websocket Subscription`);
      if (c.closed || c.bindings.has(id)) return;
      // Events up to the current count happened before this binding: $events replays them.
      const binding: Binding = { id, lastSent: state.eventsCount, lastSentAt: Date.now(), busy: true, again: false };
      c.bindings.set(id, binding);
      clearTimeout(c.bindTimer);
      await this.send(c, binding, state, 'handshake');
      binding.busy = false;
      this.log('info', { subscription: id }, 'websocket bound');
      await this.pump(c, binding);
    } catch (err) {
      this.log('warn', { err }, 'websocket binding failed');
      this.close(c, CloseCode.error, 'binding failed');
    }
  }

  /** Sends what is due on one binding; one pump per binding at a time, rerun if woken meanwhile. */
  private async pump(c: Connection, b: Binding): Promise<void> {
    if (b.busy) {
      b.again = true;
      return;
    }
    b.busy = true;
    try {
      do {
        b.again = false;
        if (c.closed) return;
        const state = await this.o.store.state(b.id);
        if (!bindable(state)) return this.close(c, CloseCode.refused, `Subscription/${b.id} is no longer an active websocket Subscription`);
        const sentBefore = b.lastSent;
        while (state.eventsCount > b.lastSent && !c.closed) {
          const from = b.lastSent + 1;
          const to = Math.min(state.eventsCount, from + state.maxCount - 1);
          const events = await this.o.store.notifications(b.id, from, to);
          if (events.length !== to - from + 1 || events[0]?.eventNumber !== from) {
            // Only after the retention period: never skip numbers silently.
            return this.close(c, CloseCode.error, `events ${from}..${to} are no longer retained`);
          }
          await this.send(c, b, state, 'event-notification', events);
          b.lastSent = to;
        }
        // One update per round, not per Bundle: it only feeds $status and retention.
        if (b.lastSent > sentBefore) await this.o.store.websocketSent(b.id, b.lastSent);
        if (state.heartbeatSeconds !== undefined && Date.now() - b.lastSentAt >= state.heartbeatSeconds * 1000) {
          await this.send(c, b, state, 'heartbeat');
        }
      } while (b.again);
    } catch (err) {
      // A socket closed by the client (or by stop()) mid-send is not a delivery failure.
      if (!c.closed && !this.stopped) this.log('warn', { err, subscription: b.id }, 'websocket delivery failed');
      this.close(c, CloseCode.error, 'delivery failed');
    } finally {
      b.busy = false;
    }
  }

  private async send(c: Connection, b: Binding, state: DeliveryState, type: NotificationType, events: readonly StoredNotification[] = []): Promise<void> {
    // notificationBundle asks mayDisclose per event: a subscriber that lost the member gets no focus.
    const bundle = await notificationBundle(state, type, events, this.o.notification);
    await c.socket.send(JSON.stringify(bundle));
    b.lastSentAt = Date.now();
  }

  private close(c: Connection, code: number, reason: string): void {
    if (c.closed) return;
    this.forget(c);
    try {
      c.socket.close(code, reason);
    } catch {
      // Already gone.
    }
  }

  private forget(c: Connection): void {
    c.closed = true;
    clearTimeout(c.bindTimer);
    this.connections.delete(c);
  }

  private log(level: 'info' | 'warn', fields: Record<string, unknown>, msg: string): void {
    if (this.o.logger) this.o.logger[level](fields, msg);
  }
}

// What the subscription subsystem needs from storage (implemented in src/storage/subscription-store.ts).
import type { WriteTx } from '../fhir/repository.js';
import type { SubscriptionConfig, SubscriptionState, TopicFilter } from './subscription-config.js';

/** A Subscription as the write path matches events against it. */
export interface Candidate {
  id: string;
  topic?: string;
  criteriaType: string;
  criteria: string;
  filters: TopicFilter[];
}

/** One event for one Subscription; the store numbers it. */
export interface NotificationInput {
  subscriptionId: string;
  topic?: string;
  focusType?: string;
  focusId?: string;
  focusVersion?: number;
  member?: string;
  /** coordination-refused: the OperationOutcome (JSON). */
  detail?: string;
}

/** The distinct Subscriptions a write's notifications name, in first-seen order (the wake and the NOTIFY name them). */
export function subscriptionIdsOf(notifications: readonly NotificationInput[]): string[] {
  return [...new Set(notifications.map((n) => n.subscriptionId))];
}

export interface StoredNotification extends Omit<NotificationInput, 'subscriptionId'> {
  eventNumber: number;
  occurredAt: string;
}

/** A Subscription's delivery configuration and state (secret included: never leaves the server). */
export interface DeliveryState {
  id: string;
  status: SubscriptionState;
  topic?: string;
  criteriaType: string;
  criteria: string;
  channelType: 'rest-hook' | 'websocket';
  endpoint?: string;
  payload: 'empty' | 'id-only' | 'full-resource';
  headers: string[];
  secret?: string;
  organization?: string;
  heartbeatSeconds?: number;
  timeoutSeconds?: number;
  maxCount: number;
  eventsCount: number;
  generation: number;
  deliveredThrough: number;
  batchTo?: number;
  handshakeDone: boolean;
  attempts: number;
  failingSince?: string;
  lastSentAt?: string;
  lastError?: string;
}

/** A claimed Subscription with the batch to send (the failed one again, else the next backport-max-count events). */
export interface Claimed extends DeliveryState {
  batch: StoredNotification[];
}

/** A delivered batch, acknowledged by the lease holder's next claim (the same statement). */
export interface Acknowledgement {
  id: string;
  deliveredThrough: number;
  /** Not claimable again before this many ms (the batch window; 0: at once). */
  holdMs?: number;
  /**
   * The previous protocol's claim() only (SubscriptionStore.claim, instances not yet upgraded): the holder
   * asks to keep the Subscription when it still has events due, acknowledgement and next batch in one
   * update of its lease.
   */
  keep?: boolean;
}

/** A delivered batch for claimMany(): acknowledged under the lease it was sent with. */
export interface LeasedAcknowledgement extends Acknowledgement {
  /** The lease owner token of the claimMany() call that answered the batch. */
  owner: string;
}

/** Writes made by the event recorder inside a resource write transaction. */
export interface SubscriptionEventStore {
  /** Subscriptions (not off) of these topics, and classic ones searching these types. */
  candidates(tx: WriteTx, topics: readonly string[], classicTypes: readonly string[]): Promise<Candidate[]>;
  /**
   * Creates or updates the registration; `reset` (a client asked for requested) restarts the
   * handshake. The organization is kept from the first write; the secret when the update carries none.
   */
  register(tx: WriteTx, config: SubscriptionConfig, organization: string | undefined, reset: boolean): Promise<void>;
  /** Mirrors a status the server set (active / error) without touching anything else. */
  setStatus(tx: WriteTx, id: string, status: SubscriptionState): Promise<void>;
  unregister(tx: WriteTx, id: string): Promise<void>;
  /**
   * Stores the notifications in tx without taking any lock (one row per distinct event, naming its
   * Subscriptions): they are positioned and numbered after commit (per Subscription: next numbers,
   * commit order, no gaps) by the first claim (claimMany) or state() that follows. Call it last in the
   * transaction, after every lock that orders the write (docs/adr/0011, docs/adr/0021). Resolves once
   * the insert is sent, not done: the transaction commits only if it succeeds, and fails with its error.
   */
  append(tx: WriteTx, notifications: readonly NotificationInput[]): Promise<void>;
  /** Same, in a transaction of its own (coordination-refused: the refused write rolled back). */
  appendAlone(notifications: (candidates: Candidate[]) => NotificationInput[], topics: readonly string[]): Promise<void>;
}

/** What dispatchers (any number of instances) use. */
export interface DeliveryStore {
  /**
   * Leases up to `limit` Subscriptions with work due (oldest due first) to `owner`, in one statement and
   * commit (docs/adr/0027): a rest-hook one with a handshake, events or a heartbeat due, or a websocket
   * one still to activate (its handshake is sent on each binding, not here). Numbers what committed and
   * answers each one's batch to send. First records every acknowledgement whose owner still holds that
   * Subscription's lease (the others change nothing); an acknowledged Subscription with more events due
   * may be answered again, after those that waited longer. limit 0: acknowledgements only.
   */
  claimMany(owner: string, leaseMs: number, acks: readonly LeasedAcknowledgement[], limit: number): Promise<Claimed[]>;
  /** Numbered notifications only: claimMany() and state() number what committed before they answer. */
  notifications(id: string, from: number, to: number): Promise<StoredNotification[]>;
  /** Records a successful send (lease kept by owner only). */
  succeeded(id: string, owner: string, update: { deliveredThrough: number; handshakeDone: boolean }): Promise<void>;
  /** Records a failed send: the batch stays in flight; next attempt after delayMs. */
  failed(id: string, owner: string, update: { batchTo?: number; delayMs: number; error: string }): Promise<void>;
  /** Releases the lease without any change (nothing to do after all). */
  release(id: string, owner: string, delayMs?: number): Promise<void>;
  /** Numbers what committed, then answers the state (eventsCount included). */
  state(id: string): Promise<DeliveryState | undefined>;
  /** Removes notifications older than the instant (retention). */
  purge(olderThan: Date): Promise<number>;
  /**
   * Calls onWake when any instance committed notifications (PostgreSQL), with the Subscriptions they name
   * (undefined: any, e.g. a registration); returns a stop function.
   */
  onNotified?(onWake: (subscriptionIds?: readonly string[]) => void): Promise<() => Promise<void>>;
}

/** What the websocket channel needs (bound sockets on this instance; tokens shared by all instances). */
export interface WebsocketStore {
  state(id: string): Promise<DeliveryState | undefined>;
  notifications(id: string, from: number, to: number): Promise<StoredNotification[]>;
  /** Stores the hash of a binding token for the Subscription until expiresAt. */
  saveBindingToken(subscriptionId: string, tokenHash: string, expiresAt: Date): Promise<void>;
  /** Consumes an unexpired token (single use): the Subscription it binds, or undefined. */
  redeemBindingToken(tokenHash: string): Promise<string | undefined>;
  /** Records what a socket has sent (retention purges only sent events; $status shows it). */
  websocketSent(id: string, through: number): Promise<void>;
  onNotified?(onWake: () => void): Promise<() => Promise<void>>;
}

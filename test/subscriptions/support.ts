// Shared pieces of the subscription tests: Subscription builders and a look at the stored notifications.
import type { Subscription } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import { Dispatcher, type DispatcherOptions } from '../../src/subscriptions/dispatcher.js';
import type { StoredNotification } from '../../src/subscriptions/store.js';
import { BackportUrls, SECRET_EXTENSION } from '../../src/subscriptions/topics.js';
import { createServer, type ServerOptions } from '../../src/server.js';
import type { Database } from '../../src/storage/database.js';
import { randomBytes } from 'node:crypto';
import { migrate } from '../../src/storage/migrate.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { openTestDatabase, postgresUrl } from '../support/db.js';
import { FHIR_JSON, testConfig, type TestServer } from '../support/server.js';

export const BASE = 'http://concord.test/fhir';
export const SECRET = `whsec_${Buffer.from('a-test-secret-of-32-bytes-long!!').toString('base64')}`;

export interface SubscriptionSpec {
  id: string;
  topic?: string;
  criteria?: string;
  filters?: string[];
  endpoint?: string;
  /** 'email' is not supported (refused with 422). */
  channel?: 'rest-hook' | 'websocket' | 'email';
  payload?: 'empty' | 'id-only' | 'full-resource';
  heartbeat?: number;
  timeout?: number;
  maxCount?: number;
  secret?: string | false;
  status?: Subscription['status'];
}

export function subscription(spec: SubscriptionSpec): Subscription {
  const channelExt = [
    ...(spec.heartbeat !== undefined ? [{ url: BackportUrls.heartbeatPeriod, valueUnsignedInt: spec.heartbeat }] : []),
    ...(spec.timeout !== undefined ? [{ url: BackportUrls.timeout, valueUnsignedInt: spec.timeout }] : []),
    ...(spec.maxCount !== undefined ? [{ url: BackportUrls.maxCount, valuePositiveInt: spec.maxCount }] : []),
    ...(spec.secret === false ? [] : [{ url: SECRET_EXTENSION, valueString: spec.secret ?? SECRET }]),
  ];
  const topicBased = spec.topic !== undefined;
  return {
    resourceType: 'Subscription',
    id: spec.id,
    ...(topicBased ? { meta: { profile: [BackportUrls.subscriptionProfile] } } : {}),
    status: spec.status ?? 'requested',
    reason: 'test',
    criteria: topicBased ? `${BASE}/SubscriptionTopic/${spec.topic}` : spec.criteria!,
    ...(spec.filters ? { _criteria: { extension: spec.filters.map((f) => ({ url: BackportUrls.filterCriteria, valueString: f })) } } : {}),
    channel: {
      type: spec.channel ?? 'rest-hook',
      ...((spec.channel ?? 'rest-hook') === 'rest-hook' ? { endpoint: spec.endpoint ?? 'http://127.0.0.1:9/hook' } : {}),
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: BackportUrls.payloadContent, valueCode: spec.payload ?? 'id-only' }] },
      ...(channelExt.length > 0 ? { extension: channelExt } : {}),
    },
  } as Subscription;
}

export async function putSubscription(s: TestServer, spec: SubscriptionSpec): Promise<LightMyRequestResponse> {
  return s.request({ method: 'PUT', url: `/fhir/Subscription/${spec.id}`, payload: subscription(spec), headers: { 'content-type': FHIR_JSON } });
}

export async function stored(s: TestServer, id: string): Promise<StoredNotification[]> {
  const store = new SubscriptionStore(s.db);
  await store.state(id); // numbers what committed, as every reader of numbers does
  return store.notifications(id, 1, 1_000_000);
}

/** A test server with subscription seams (createServer's ServerOptions). */
export async function startSubscriptionServer(env: Record<string, string>, options: ServerOptions = {}, db?: Database): Promise<TestServer> {
  const database = db ?? (await openTestDatabase(undefined, { max: 15 }));
  const server = await createServer(testConfig(env), false, database, { webhookResolver: () => Promise.resolve([]), ...options });
  await server.app.ready();
  return {
    ...server,
    db: database,
    request: (o) => server.app.inject(o),
    json: <T>(res: LightMyRequestResponse) => JSON.parse(res.body) as T,
  };
}

export interface TwoInstances {
  a: TestServer;
  b: TestServer;
  /** Stops both instances and drops their schema. */
  close(): Promise<void>;
}

/** Two subscription test servers on one fresh PostgreSQL schema (PostgreSQL only). */
export async function startTwoInstances(
  a: { env: Record<string, string>; options?: ServerOptions },
  b: { env: Record<string, string>; options?: ServerOptions },
): Promise<TwoInstances> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const connectionString = postgresUrl()!;
  const dbA = await openPostgres({ connectionString, schema, max: 10, acquireTimeoutMs: 60_000 });
  await migrate(dbA);
  const dbB = await openPostgres({ connectionString, schema, max: 10, acquireTimeoutMs: 60_000 });
  const serverA = await startSubscriptionServer(a.env, a.options, dbA);
  const serverB = await startSubscriptionServer(b.env, b.options, dbB);
  return {
    a: serverA,
    b: serverB,
    async close() {
      await serverB.close();
      const cleanup = await openPostgres({ connectionString, schema });
      await serverA.close();
      await cleanup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await cleanup.close();
    },
  };
}

/**
 * An active Subscription registered straight in the store's tables, handshake done (the store and
 * dispatcher tests, which need no Subscription resource): topic defaults to the id.
 */
export async function activeSubscriptionRow(db: Database, id: string, o: { maxCount: number; topic?: string; channel?: 'rest-hook' | 'websocket' }): Promise<void> {
  await db.query(
    `INSERT INTO subscription_channel (subscription_id, status, topic, criteria_type, criteria, filters, channel_type, endpoint, payload, headers, max_count)
     VALUES ($1, 'active', $2, 'EpisodeOfCare', '', '[]', $3, 'http://127.0.0.1:9/hook', 'id-only', '[]', $4)`,
    [id, o.topic ?? id, o.channel ?? 'rest-hook', o.maxCount],
  );
  await db.query('INSERT INTO subscription_delivery (subscription_id, handshake_done) VALUES ($1, true)', [id]);
}

/** Commits count events for the Subscription (its own topic), one transaction each, as writes would. */
export async function recordEvents(store: SubscriptionStore, id: string, count: number, from = 1): Promise<void> {
  for (let n = from; n < from + count; n++) {
    await store.appendAlone(() => [{ subscriptionId: id, topic: id, focusType: 'EpisodeOfCare', focusId: `${id}-${n}`, focusVersion: 1 }], [id]);
  }
}

/** The event numbers a notification bundle carries, in its order. */
export const eventNumbers = (body: string): number[] =>
  [...body.matchAll(/"name":"event-number","valueString":"(\d+)"/g)].map((m) => Number(m[1]));

/**
 * A dispatcher over the store with the tests' settings: nothing disclosed or loaded, statuses ignored,
 * short retries and polls, no batch window, no logs. The caller gives the POST and what else it tests.
 */
export function testDispatcher(options: Pick<DispatcherOptions, 'store' | 'post'> & Partial<DispatcherOptions>): Dispatcher {
  return new Dispatcher({
    notification: { base: BASE, loadFocus: () => Promise.resolve(undefined), mayDisclose: () => Promise.resolve(true) },
    setStatus: () => Promise.resolve(),
    retryBudgetMs: 60_000,
    retryBaseMs: 100,
    retryMaxDelayMs: 1000,
    timeoutMs: 2000,
    pollMs: 20,
    retentionMs: 86_400_000,
    concurrency: 1,
    batchWindowMs: 0,
    logger: false,
    ...options,
  });
}

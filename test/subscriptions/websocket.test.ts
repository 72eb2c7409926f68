// The websocket channel over a real listening port on 127.0.0.1 with a `ws` client: activation without
// an endpoint, $get-ws-binding-token, bind-with-token -> handshake then the same notification Bundles
// as rest-hook (numbers in order, gapless), refused tokens (closed with a reason), heartbeats, the read
// scope on the token endpoint, and a second instance on the same PostgreSQL schema holding the socket.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Bundle, Parameters, Subscription } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { episode, ORGS } from '../unit/coordination/builders.js';
import { expectAccepted, forMember, member, put, seed } from '../e2e/coordination/support.js';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import { hashToken, WebsocketHub } from '../../src/subscriptions/websocket-hub.js';
import { postgresUrl } from '../support/db.js';
import type { TestServer } from '../support/server.js';
import { accessToken, bearer, registerClient, startAuthServer } from '../auth/support.js';
import { eventNumbers, eventually, statusParam } from './receiver.js';
import { putSubscription, startSubscriptionServer, startTwoInstances, type TwoInstances } from './support.js';
import { openSocket, type TestSocket } from './ws-client.js';

const typeOf = (b: Bundle): string | undefined => statusParam(b, 'type')?.valueCode;
const subscriptionOf = (b: Bundle): string | undefined => statusParam(b, 'subscription')?.valueReference?.reference;
const numbersOf = (socket: TestSocket): number[] => socket.bundles.filter((b) => typeOf(b) === 'event-notification').flatMap(eventNumbers);

async function listen(s: TestServer): Promise<string> {
  await s.app.listen({ host: '127.0.0.1', port: 0 });
  return `ws://127.0.0.1:${(s.app.server.address() as AddressInfo).port}/fhir/ws`;
}

async function statusOf(s: TestServer, id: string): Promise<string | undefined> {
  return (JSON.parse((await s.request({ method: 'GET', url: `/fhir/Subscription/${id}` })).body) as Subscription).status;
}

async function bindingToken(s: TestServer, id: string, headers: Record<string, string> = {}): Promise<{ status: number; params?: Parameters }> {
  const res = await s.request({ method: 'GET', url: `/fhir/Subscription/${id}/$get-ws-binding-token`, headers });
  return { status: res.statusCode, ...(res.statusCode === 200 ? { params: JSON.parse(res.body) as Parameters } : {}) };
}

const param = (p: Parameters | undefined, name: string) => p?.parameter?.find((x) => x.name === name);

async function tokenOf(s: TestServer, id: string): Promise<string> {
  const { status, params } = await bindingToken(s, id);
  expect(status).toBe(200);
  return param(params, 'token')!.valueString!;
}

async function bound(url: string, token: string): Promise<TestSocket> {
  const socket = await openSocket(url);
  socket.send(`bind-with-token: ${token}`);
  await eventually(() => socket.bundles.length > 0 || socket.closedWith !== undefined, 'handshake');
  return socket;
}

describe('websocket channel', () => {
  let s: TestServer;
  let url: string;
  const sockets: TestSocket[] = [];
  /** Members the subscriber's organization may no longer see (asked at send time). */
  const denied = new Set<string>();
  beforeAll(async () => {
    s = await startSubscriptionServer(
      { SUBSCRIPTION_POLL_MS: '100' },
      { subscriptionAccess: (_organization, memberId) => Promise.resolve(memberId === undefined || !denied.has(memberId)) },
    );
    url = await listen(s);
    await seed(s);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await s.close();
  });

  it('accepts a websocket Subscription without endpoint and activates it', async () => {
    expectAccepted(await putSubscription(s, { id: 'ws-a', topic: 'enrolment', channel: 'websocket', maxCount: 3 }));
    expectAccepted(await putSubscription(s, { id: 'ws-b', topic: 'enrolment', channel: 'websocket' }));
    await eventually(async () => (await statusOf(s, 'ws-a')) === 'active' && (await statusOf(s, 'ws-b')) === 'active', 'active');
  });

  it('$get-ws-binding-token answers token, expiration, subscription and websocket-url; a rest-hook Subscription gets 422', async () => {
    const before = Date.now();
    const { status, params } = await bindingToken(s, 'ws-a');
    expect(status).toBe(200);
    expect(param(params, 'token')?.valueString).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const expiration = Date.parse(param(params, 'expiration')!.valueDateTime!);
    expect(expiration).toBeGreaterThan(before);
    expect(expiration).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(param(params, 'subscription')?.valueString).toBe('Subscription/ws-a');
    expect(param(params, 'websocket-url')?.valueUrl).toBe('ws://concord.test/fhir/ws');
    // Two tokens are never the same.
    expect(await tokenOf(s, 'ws-a')).not.toBe(param(params, 'token')?.valueString);
    // Only the hash is stored.
    const rows = await s.db.query<{ token_hash: string }>('SELECT token_hash FROM subscription_ws_token', []);
    expect(rows.rows.map((r) => r.token_hash)).toContain(hashToken(param(params, 'token')!.valueString!));
    expect(rows.rows.map((r) => r.token_hash)).not.toContain(param(params, 'token')!.valueString!);

    expectAccepted(await putSubscription(s, { id: 'ws-rest', topic: 'enrolment', endpoint: 'https://hooks.example.org/concord', status: 'off' }));
    expect((await bindingToken(s, 'ws-rest')).status).toBe(422);
    expect((await bindingToken(s, 'ws-none')).status).toBe(404);
  });

  it('bind-with-token: a handshake, then every write as event-notification, numbers 1..N in order without gaps, only for that Subscription', async () => {
    const socket = await bound(url, await tokenOf(s, 'ws-a'));
    sockets.push(socket);
    expect(socket.closedWith).toBeUndefined();
    expect(typeOf(socket.bundles[0]!)).toBe('handshake');
    expect(subscriptionOf(socket.bundles[0]!)).toBe('http://concord.test/fhir/Subscription/ws-a');

    const members = await Promise.all(Array.from({ length: 5 }, (_, i) => member(s, `ws-m${i}`)));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => put(s, forMember(episode(`ws-ep-${i % 5}`, 'ny-mltcp', ORGS.mltcp), members[i % 5]!))));
    for (const r of results) expect([200, 201], r.body).toContain(r.statusCode);
    await eventually(() => numbersOf(socket).length >= 30, '30 events on the socket');
    expect(numbersOf(socket)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
    // Bundles follow backport-max-count (3) and all belong to ws-a (ws-b matched the same writes).
    const events = socket.bundles.filter((b) => typeOf(b) === 'event-notification');
    for (const b of events) {
      expect(subscriptionOf(b)).toBe('http://concord.test/fhir/Subscription/ws-a');
      expect(eventNumbers(b).length).toBeLessThanOrEqual(3);
    }
    // id-only: each event names its focus version, exactly as a rest-hook notification.
    const first = (events[0]!.entry![0]!.resource as Parameters).parameter!.find((p) => p.name === 'notification-event')!;
    expect(first.part?.find((p) => p.name === 'focus')?.valueReference?.reference).toMatch(/^http:\/\/concord\.test\/fhir\/EpisodeOfCare\/ws-ep-\d\/_history\/1$/);
    // What the socket sent is recorded as delivered ($status and retention see it): the hub records it
    // once the send completed, which may be just after the client read the frame.
    const store = new SubscriptionStore(s.db);
    await eventually(async () => (await store.state('ws-a'))?.deliveredThrough === 30, 'ws-a recorded as delivered through 30', 10_000);
    expect((await store.state('ws-a'))?.deliveredThrough).toBe(30);
  });

  it('refuses a used, unknown, expired or empty token, and a token of a Subscription switched off, closing the socket with a reason', async () => {
    const token = await tokenOf(s, 'ws-b');
    const first = await bound(url, token);
    sockets.push(first);
    expect(typeOf(first.bundles[0]!)).toBe('handshake');
    expect(subscriptionOf(first.bundles[0]!)).toBe('http://concord.test/fhir/Subscription/ws-b');

    const reused = await bound(url, token);
    expect(await reused.closed).toEqual({ code: 1008, reason: 'invalid or expired binding token' });
    expect(reused.bundles).toEqual([]);

    const unknown = await bound(url, randomBytes(32).toString('base64url'));
    expect((await unknown.closed).code).toBe(1008);

    await new SubscriptionStore(s.db).saveBindingToken('ws-a', hashToken('an-expired-token'), new Date(Date.now() - 1000));
    const expired = await bound(url, 'an-expired-token');
    expect(await expired.closed).toEqual({ code: 1008, reason: 'invalid or expired binding token' });

    const empty = await openSocket(url);
    empty.send('hello');
    expect((await empty.closed).code).toBe(1008);

    expectAccepted(await putSubscription(s, { id: 'ws-off', topic: 'enrolment', channel: 'websocket' }));
    const offToken = await tokenOf(s, 'ws-off');
    expectAccepted(await putSubscription(s, { id: 'ws-off', topic: 'enrolment', channel: 'websocket', status: 'off' }));
    const off = await bound(url, offToken);
    expect(await off.closed).toEqual({ code: 1008, reason: 'Subscription/ws-off is not an active websocket Subscription' });
  });

  it('two sockets racing with one token: exactly one binds', async () => {
    const token = await tokenOf(s, 'ws-b');
    const [x, y] = await Promise.all([openSocket(url), openSocket(url)]);
    x.send(`bind-with-token: ${token}`);
    y.send(`bind-with-token: ${token}`);
    await eventually(() => [x, y].every((k) => k.bundles.length > 0 || k.closedWith !== undefined), 'both answered');
    const winners = [x, y].filter((k) => k.closedWith === undefined);
    expect(winners).toHaveLength(1);
    expect(typeOf(winners[0]!.bundles[0]!)).toBe('handshake');
    expect([x, y].find((k) => k.closedWith)?.closedWith?.reason).toBe('invalid or expired binding token');
    winners[0]!.close();
  });

  it('a bound socket is closed when its Subscription is switched off', async () => {
    expectAccepted(await putSubscription(s, { id: 'ws-later-off', topic: 'enrolment', channel: 'websocket' }));
    const socket = await bound(url, await tokenOf(s, 'ws-later-off'));
    expect(typeOf(socket.bundles[0]!)).toBe('handshake');
    expectAccepted(await putSubscription(s, { id: 'ws-later-off', topic: 'enrolment', channel: 'websocket', status: 'off' }));
    expect(await socket.closed).toEqual({ code: 1008, reason: 'Subscription/ws-later-off is no longer an active websocket Subscription' });
  });

  it('full-resource carries the focus; access is checked again at send time: a member no longer visible loses focus and resource, the number stays', async () => {
    const m = await member(s, 'ws-acc');
    expectAccepted(await putSubscription(s, { id: 'ws-full', topic: 'enrolment', channel: 'websocket', payload: 'full-resource', filters: [`EpisodeOfCare?patient=${m}`] }));
    const socket = await bound(url, await tokenOf(s, 'ws-full'));
    sockets.push(socket);
    expectAccepted(await put(s, forMember(episode('ws-acc-1', 'ny-mltcp', ORGS.mltcp), m)));
    await eventually(() => numbersOf(socket).length >= 1, 'first event');
    const visible = socket.bundles.find((b) => typeOf(b) === 'event-notification')!;
    expect(visible.entry?.slice(1).map((e) => e.resource?.resourceType)).toEqual(['EpisodeOfCare']);
    denied.add(m);
    try {
      expectAccepted(await put(s, forMember(episode('ws-acc-2', 'ny-mltcp', ORGS.mltcp), m)));
      await eventually(() => numbersOf(socket).length >= 2, 'second event');
    } finally {
      denied.clear();
    }
    expect(numbersOf(socket)).toEqual([1, 2]);
    const withheld = socket.bundles.filter((b) => typeOf(b) === 'event-notification').at(-1)!;
    expect(withheld.entry).toHaveLength(1);
    const event = (withheld.entry![0]!.resource as Parameters).parameter!.find((p) => p.name === 'notification-event')!;
    expect(event.part?.map((p) => p.name)).toEqual(['event-number', 'timestamp']);
  });

  it('sends heartbeats per heartbeatPeriod', async () => {
    expectAccepted(await putSubscription(s, { id: 'ws-hb', topic: 'consent', channel: 'websocket', heartbeat: 1 }));
    const socket = await bound(url, await tokenOf(s, 'ws-hb'));
    sockets.push(socket);
    await eventually(() => socket.bundles.filter((b) => typeOf(b) === 'heartbeat').length >= 2, 'two heartbeats');
    expect(typeOf(socket.bundles[0]!)).toBe('handshake');
  });
});

describe('websocket binding token with authentication on', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startAuthServer();
  });
  afterAll(async () => {
    await s.close();
  });

  it('is issued only to a client with read access to Subscription', async () => {
    const admin = await registerClient(s, 'ws-admin', { scopes: 'system/*.cruds' });
    const adminToken = await accessToken(s, admin);
    expectAccepted(
      await s.request({
        method: 'PUT',
        url: '/fhir/Subscription/ws-auth',
        headers: { ...bearer(adminToken), 'content-type': 'application/fhir+json' },
        payload: (await import('./support.js')).subscription({ id: 'ws-auth', topic: 'enrolment', channel: 'websocket' }),
      }),
    );
    const patientsOnly = await registerClient(s, 'ws-patients', { scopes: 'system/Patient.rs' });
    expect((await bindingToken(s, 'ws-auth', bearer(await accessToken(s, patientsOnly, 'system/Patient.rs')))).status).toBe(403);
    expect((await bindingToken(s, 'ws-auth')).status).toBe(401);
    const reader = await registerClient(s, 'ws-reader', { scopes: 'system/Subscription.rs' });
    const ok = await bindingToken(s, 'ws-auth', bearer(await accessToken(s, reader, 'system/Subscription.rs')));
    expect(ok.status).toBe(200);
    expect(param(ok.params, 'token')?.valueString).toBeTruthy();
  });
});

describe.skipIf(!postgresUrl())('websocket on a second instance sharing the database', () => {
  let a: TestServer;
  let b: TestServer;
  let instances: TwoInstances | undefined;
  beforeAll(async () => {
    // B's poll is too slow for the test's patience: B's socket is woken by A's NOTIFY at commit.
    instances = await startTwoInstances({ env: { SUBSCRIPTION_POLL_MS: '100' } }, { env: { SUBSCRIPTION_POLL_MS: '600000', SUBSCRIPTION_DISPATCH: 'off' } });
    ({ a, b } = instances);
    await seed(a);
  });
  afterAll(async () => {
    await instances?.close();
  });

  it('a token from A binds on B, and B delivers the events written through A in order, gapless', async () => {
    const urlB = await listen(b);
    expectAccepted(await putSubscription(a, { id: 'ws-x', topic: 'enrolment', channel: 'websocket', maxCount: 5 }));
    await eventually(async () => (await statusOf(a, 'ws-x')) === 'active', 'active');
    const socket = await bound(urlB, await tokenOf(a, 'ws-x'));
    try {
      expect(typeOf(socket.bundles[0]!)).toBe('handshake');
      const members = await Promise.all(Array.from({ length: 4 }, (_, i) => member(a, `wsx-m${i}`)));
      const results = await Promise.all(Array.from({ length: 24 }, (_, i) => put(a, forMember(episode(`wsx-ep-${i % 4}`, 'ny-mltcp', ORGS.mltcp), members[i % 4]!))));
      for (const r of results) expect([200, 201], r.body).toContain(r.statusCode);
      await eventually(() => numbersOf(socket).length >= 24, '24 events on B', 30_000);
      expect(numbersOf(socket)).toEqual(Array.from({ length: 24 }, (_, k) => k + 1));
    } finally {
      socket.close();
    }
  }, 120_000);
});

describe('websocket hub without a binding', () => {
  it('closes a socket that binds nothing within the bind timeout', async () => {
    const hub = new WebsocketHub({
      store: { state: () => Promise.resolve(undefined), notifications: () => Promise.resolve([]), saveBindingToken: () => Promise.resolve(), redeemBindingToken: () => Promise.resolve(undefined), websocketSent: () => Promise.resolve() },
      notification: { base: 'http://concord.test/fhir', loadFocus: () => Promise.resolve(undefined), mayDisclose: () => Promise.resolve(true) },
      tokenTtlMs: 60_000,
      pollMs: 60_000,
      bindTimeoutMs: 20,
    });
    let closed: { code: number; reason: string } | undefined;
    hub.connect({ send: () => Promise.resolve(), close: (code, reason) => (closed = { code, reason }) });
    await eventually(() => closed !== undefined, 'closed');
    expect(closed).toEqual({ code: 1008, reason: 'no bind-with-token received' });
    await hub.stop();
  });
});

// rest-hook delivery end to end against a real receiver on 127.0.0.1 (allow-listed): handshake,
// Standard Webhooks signatures checked by the independent `standardwebhooks` package, commit-order
// gapless numbering under concurrent writes, a receiver that is down then up, a slow receiver
// (timeouts: the same numbers and webhook ids again), heartbeats, $status and $events.
import type { Bundle, Subscription } from '@medplum/fhirtypes';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { episode, ORGS } from '../unit/coordination/builders.js';
import { expectAccepted, forMember, member, put, seed } from '../e2e/coordination/support.js';
import type { TestServer } from '../support/server.js';
import { eventNumbers, eventually, notificationType, Receiver, statusParam } from './receiver.js';
import { putSubscription, SECRET, startSubscriptionServer } from './support.js';

let s: TestServer;
const receiver = new Receiver();

beforeAll(async () => {
  await receiver.start();
  s = await startSubscriptionServer({
    SUBSCRIPTION_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
    SUBSCRIPTION_RETRY_BASE_MS: '50',
    SUBSCRIPTION_RETRY_MAX_DELAY_MS: '300',
    SUBSCRIPTION_POLL_MS: '100',
  });
  await seed(s);
});
afterAll(async () => {
  await s.close();
  await receiver.stop();
});

const statusOf = async (id: string): Promise<string | undefined> =>
  (JSON.parse((await s.request({ method: 'GET', url: `/fhir/Subscription/${id}` })).body) as Subscription).status;

const enrol = (id: string, m: string) => put(s, forMember(episode(id, 'ny-mltcp', ORGS.mltcp), m));

describe('rest-hook delivery', () => {
  it('handshake: requested -> active, signed so that an independent Standard Webhooks implementation verifies it', async () => {
    expectAccepted(await putSubscription(s, { id: 'dl-hs', topic: 'enrolment', endpoint: receiver.url, filters: ['EpisodeOfCare?patient=Patient/nobody'] }));
    await eventually(() => receiver.of('dl-hs').length > 0, 'handshake');
    const [hs] = receiver.of('dl-hs');
    expect(notificationType(hs!)).toBe('handshake');
    expect(hs!.bundle.type).toBe('history');
    const verified = new Webhook(SECRET).verify(hs!.body, {
      'webhook-id': String(hs!.headers['webhook-id']),
      'webhook-timestamp': String(hs!.headers['webhook-timestamp']),
      'webhook-signature': String(hs!.headers['webhook-signature']),
    });
    expect((verified as Bundle).resourceType).toBe('Bundle');
    // A tampered body fails the independent verification.
    expect(() => new Webhook(SECRET).verify(hs!.body.replace('handshake', 'heartbeat'), hs!.headers as Record<string, string>)).toThrow();
    await eventually(async () => (await statusOf('dl-hs')) === 'active', 'status active');
    // An update without the secret keeps the stored one: the next handshake still verifies with it.
    expectAccepted(await putSubscription(s, { id: 'dl-hs', topic: 'enrolment', endpoint: receiver.url, filters: ['EpisodeOfCare?patient=Patient/nobody'], secret: false }));
    await eventually(() => receiver.of('dl-hs').length > 1, 'second handshake');
    const again = receiver.of('dl-hs')[1]!;
    expect(() => new Webhook(SECRET).verify(again.body, again.headers as Record<string, string>)).not.toThrow();
  });

  it('a handshake the receiver refuses leaves the Subscription in error', async () => {
    receiver.mode = 'down';
    try {
      expectAccepted(await putSubscription(s, { id: 'dl-hs-fail', topic: 'enrolment', endpoint: receiver.url }));
      await eventually(async () => (await statusOf('dl-hs-fail')) === 'error', 'status error');
    } finally {
      receiver.mode = 'ok';
    }
    const sub = JSON.parse((await s.request({ method: 'GET', url: '/fhir/Subscription/dl-hs-fail' })).body) as Subscription;
    expect(sub.error).toContain('handshake failed');
    await putSubscription(s, { id: 'dl-hs-fail', topic: 'enrolment', endpoint: receiver.url, status: 'off' });
  });

  it('200 concurrent writes over 20 members: every event once, numbered 1..200 in arrival order, each member in its commit order', async () => {
    const members = await Promise.all(Array.from({ length: 20 }, (_, i) => member(s, `dl-m${i}`)));
    expectAccepted(await putSubscription(s, { id: 'dl-order', topic: 'enrolment', endpoint: receiver.url, maxCount: 7 }));
    await eventually(async () => (await statusOf('dl-order')) === 'active', 'active');
    const writes = Array.from({ length: 200 }, (_, i) => ({ id: `dl-ep-${i % 20}`, m: members[i % 20]! }));
    const results = await Promise.all(writes.map((w) => enrol(w.id, w.m)));
    for (const r of results) expect([200, 201], r.body).toContain(r.statusCode);
    await eventually(() => receiver.acknowledgedNumbers('dl-order').length >= 200, '200 events', 120_000);
    const numbers = receiver.acknowledgedNumbers('dl-order');
    expect(numbers).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // Per episode (one resource, 10 versions), the focus versions arrive 1..10: commit order.
    const ids = new Set<string>();
    const delivered = receiver.of('dl-order').filter((d) => {
      if (d.answered !== 200 || notificationType(d) !== 'event-notification' || ids.has(String(d.headers['webhook-id']))) return false;
      ids.add(String(d.headers['webhook-id']));
      return true;
    });
    const versionsByFocus = new Map<string, number[]>();
    for (const d of delivered) {
      for (const p of d.bundle.entry![0]!.resource!.resourceType === 'Parameters' ? (d.bundle.entry![0]!.resource as { parameter: { name: string; part?: { name: string; valueReference?: { reference?: string } }[] }[] }).parameter : []) {
        const focus = p.part?.find((x) => x.name === 'focus')?.valueReference?.reference;
        if (!focus) continue;
        const m = /\/EpisodeOfCare\/([^/]+)\/_history\/(\d+)$/.exec(focus)!;
        versionsByFocus.set(m[1]!, [...(versionsByFocus.get(m[1]!) ?? []), Number(m[2])]);
      }
    }
    expect(versionsByFocus.size).toBe(20);
    for (const versions of versionsByFocus.values()) expect(versions).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });

  it('receiver down, then up: every event afterwards, in order, gapless, redeliveries with the same webhook id', async () => {
    const m = await member(s, 'dl-down');
    expectAccepted(await putSubscription(s, { id: 'dl-down', topic: 'enrolment', endpoint: receiver.url, filters: [`EpisodeOfCare?patient=${m}`] }));
    await eventually(async () => (await statusOf('dl-down')) === 'active', 'active');
    receiver.mode = 'down';
    for (let i = 0; i < 5; i++) expectAccepted(await enrol(`dl-down-${i}`, m));
    await eventually(() => receiver.of('dl-down').filter((d) => d.answered === 503).length >= 3, 'retries while down');
    receiver.mode = 'ok';
    await eventually(() => receiver.acknowledgedNumbers('dl-down').length >= 5, 'all delivered');
    expect(receiver.acknowledgedNumbers('dl-down')).toEqual([1, 2, 3, 4, 5]);
    const failed = receiver.of('dl-down').filter((d) => d.answered === 503);
    // Every failed attempt was event 1 with one webhook id, the one finally acknowledged.
    expect(new Set(failed.map((d) => eventNumbers(d.bundle).join(',')))).toEqual(new Set(['1']));
    const ok1 = receiver.of('dl-down').find((d) => d.answered === 200 && eventNumbers(d.bundle)[0] === 1)!;
    expect(new Set(failed.map((d) => d.headers['webhook-id']))).toEqual(new Set([ok1.headers['webhook-id']]));
  });

  it('a slow receiver (timeouts): the same numbers and webhook id are delivered again', async () => {
    const m = await member(s, 'dl-slow');
    receiver.mode = 'ok';
    expectAccepted(await putSubscription(s, { id: 'dl-slow', topic: 'enrolment', endpoint: receiver.url, timeout: 1, filters: [`EpisodeOfCare?patient=${m}`] }));
    await eventually(async () => (await statusOf('dl-slow')) === 'active', 'active');
    receiver.mode = { slowMs: 3000 };
    expectAccepted(await enrol('dl-slow-1', m));
    await eventually(() => receiver.of('dl-slow').filter((d) => notificationType(d) === 'event-notification').length >= 2, 'a redelivery after a timeout');
    receiver.mode = 'ok';
    await eventually(() => receiver.acknowledgedNumbers('dl-slow').length >= 1, 'acknowledged');
    const attempts = receiver.of('dl-slow').filter((d) => notificationType(d) === 'event-notification');
    expect(new Set(attempts.map((d) => eventNumbers(d.bundle).join(',')))).toEqual(new Set(['1']));
    expect(new Set(attempts.map((d) => d.headers['webhook-id'])).size).toBe(1);
  });

  it('heartbeats per heartbeatPeriod when there is nothing to deliver', async () => {
    receiver.mode = 'ok';
    expectAccepted(await putSubscription(s, { id: 'dl-hb', topic: 'enrolment', endpoint: receiver.url, heartbeat: 1, filters: ['EpisodeOfCare?patient=Patient/nobody'] }));
    await eventually(() => receiver.of('dl-hb').filter((d) => notificationType(d) === 'heartbeat').length >= 2, 'two heartbeats');
    const hb = receiver.of('dl-hb').find((d) => notificationType(d) === 'heartbeat')!;
    expect(statusParam(hb.bundle, 'events-since-subscription-start')?.valueString).toBe('0');
    await putSubscription(s, { id: 'dl-hb', topic: 'enrolment', endpoint: receiver.url, status: 'off' });
  });

  it('$status and $events: the count, a replay of a range, never the secret', async () => {
    const m = await member(s, 'dl-ops');
    expectAccepted(await putSubscription(s, { id: 'dl-ops', topic: 'enrolment', endpoint: receiver.url, filters: [`EpisodeOfCare?patient=${m}`], payload: 'full-resource' }));
    for (let i = 0; i < 3; i++) expectAccepted(await enrol(`dl-ops-${i}`, m));
    const status = await s.request({ method: 'GET', url: '/fhir/Subscription/dl-ops/$status' });
    expect(status.statusCode, status.body).toBe(200);
    const statusBundle = JSON.parse(status.body) as Bundle;
    expect(statusBundle.type).toBe('searchset');
    expect(statusParam(statusBundle, 'type')?.valueCode).toBe('query-status');
    expect(statusParam(statusBundle, 'events-since-subscription-start')?.valueString).toBe('3');
    const events = await s.request({ method: 'GET', url: '/fhir/Subscription/dl-ops/$events?eventsSinceNumber=2&eventsUntilNumber=3' });
    expect(events.statusCode, events.body).toBe(200);
    const eventsBundle = JSON.parse(events.body) as Bundle;
    expect(eventNumbers(eventsBundle)).toEqual([2, 3]);
    expect(statusParam(eventsBundle, 'type')?.valueCode).toBe('query-event');
    expect(eventsBundle.entry?.slice(1).map((e) => e.resource?.resourceType)).toEqual(['EpisodeOfCare', 'EpisodeOfCare']);
    const post = await s.request({
      method: 'POST',
      url: '/fhir/Subscription/dl-ops/$events',
      payload: { resourceType: 'Parameters', parameter: [{ name: 'eventsSinceNumber', valueString: '1' }, { name: 'content', valueCode: 'id-only' }] },
      headers: { 'content-type': 'application/fhir+json' },
    });
    expect(post.statusCode, post.body).toBe(200);
    expect(eventNumbers(JSON.parse(post.body) as Bundle)).toEqual([1, 2, 3]);
    for (const body of [status.body, events.body, post.body]) expect(body).not.toContain('whsec_');
    expect((await s.request({ method: 'GET', url: '/fhir/Subscription/nope/$status' })).statusCode).toBe(404);
    expect((await s.request({ method: 'GET', url: '/fhir/Subscription/dl-ops/$events?eventsSinceNumber=x' })).statusCode).toBe(400);
  });
});

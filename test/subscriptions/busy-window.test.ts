// Over HTTP: while requests in flight on the instance reach SUBSCRIPTION_BUSY_REQUESTS, a Subscription whose
// POST carried 8 events or more waits SUBSCRIPTION_BATCH_WINDOW_BUSY_MS before its next POST, so a saturated
// instance delivers in fewer, fuller POSTs (docs/adr/0027, addendum "a longer window while busy"); with nothing
// in flight the same instance follows with its short window.
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { episode, ORGS } from '../unit/coordination/builders.js';
import { expectAccepted, forMember, member, put, seed, transaction } from '../e2e/coordination/support.js';
import { FHIR_JSON, type TestServer } from '../support/server.js';
import { eventNumbers, eventually, notificationType, Receiver } from './receiver.js';
import { putSubscription, startSubscriptionServer } from './support.js';

describe('a longer batch window while the instance is busy', () => {
  const receiver = new Receiver();
  let s: TestServer;
  let members: string[];
  beforeAll(async () => {
    await receiver.start();
    s = await startSubscriptionServer({
      SUBSCRIPTION_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
      SUBSCRIPTION_POLL_MS: '50',
      SUBSCRIPTION_BATCH_WINDOW_MS: '10',
      SUBSCRIPTION_BATCH_WINDOW_MAX_MS: '0',
      SUBSCRIPTION_BATCH_WINDOW_BUSY_MS: '800',
      SUBSCRIPTION_BUSY_REQUESTS: '1',
    });
    await seed(s);
    members = await Promise.all(Array.from({ length: 8 }, (_, i) => member(s, `bw-m${i}`)));
  });
  afterAll(async () => {
    await s?.close();
    await receiver.stop();
  });

  /** Eight events in one commit (one POST), then one more: the time between the two POSTs (ms). */
  async function gapAfterEight(sub: string, prefix: string): Promise<number> {
    expectAccepted(await putSubscription(s, { id: sub, topic: 'enrolment', endpoint: receiver.url, maxCount: 50 }));
    await eventually(() => receiver.of(sub).some((d) => notificationType(d) === 'handshake'), `${sub} handshake`);
    const events = () => receiver.of(sub).filter((d) => notificationType(d) === 'event-notification');
    const res = await transaction(
      s,
      members.map((m, i) => ({ resource: forMember(episode(`${prefix}-${i}`, 'ny-mltcp', ORGS.mltcp), m), method: 'PUT' as const, url: `EpisodeOfCare/${prefix}-${i}` })),
    );
    expect(res.statusCode, res.body).toBe(200);
    await eventually(() => events().length === 1, `${sub}: the eight events`);
    expect(eventNumbers(events()[0]!.bundle)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expectAccepted(await put(s, forMember(episode(`${prefix}-0`, 'ny-mltcp', ORGS.mltcp, { start: '2025-02-01' }), members[0]!)));
    await eventually(() => events().length === 2, `${sub}: the ninth event`);
    expect(eventNumbers(events()[1]!.bundle)).toEqual([9]);
    return events()[1]!.at - events()[0]!.at;
  }

  it('nothing in flight: the next POST follows within the short window', async () => {
    expect(await gapAfterEight('bw-quiet', 'bw-q')).toBeLessThan(500);
  });

  it('a request in flight (its body still arriving): the next POST waits the busy window', async () => {
    const body = new PassThrough();
    const held = s.request({ method: 'POST', url: '/fhir/Patient', payload: body, headers: { 'content-type': FHIR_JSON } });
    try {
      expect(await gapAfterEight('bw-busy', 'bw-b')).toBeGreaterThanOrEqual(790);
    } finally {
      body.end(JSON.stringify({ resourceType: 'Patient' }));
      expect((await held).statusCode).toBe(201);
    }
  });
});

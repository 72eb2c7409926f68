// Two Concord instances on one PostgreSQL database, writing and dispatching at once: every event is
// delivered once (at-least-once only on timeouts, with the same webhook id), in order, and never by
// both instances concurrently for one Subscription.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { episode, ORGS } from '../unit/coordination/builders.js';
import { expectAccepted, forMember, member, put, seed } from '../e2e/coordination/support.js';
import { nodePostConnector, type PostTarget } from '../../src/net/webhook-post.js';
import { postgresUrl } from '../support/db.js';
import type { TestServer } from '../support/server.js';
import { eventually, notificationType, Receiver } from './receiver.js';
import { putSubscription, startTwoInstances, type TwoInstances } from './support.js';

const receiver = new Receiver();
let a: TestServer;
let b: TestServer;
let instances: TwoInstances | undefined;
/** Deliveries in progress per Subscription at each moment (the receiver answers after a short delay). */
let overlap = 0;

describe.skipIf(!postgresUrl())('two instances on one database', () => {
  beforeAll(async () => {
    await receiver.start();
    receiver.mode = { slowMs: 5 };
    const inFlight = new Map<string, number>();
    const env = { SUBSCRIPTION_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`, SUBSCRIPTION_POLL_MS: '50' };
    const tracking = {
      webhookConnector: async (target: PostTarget) => {
        const sub = /\/Subscription\/([^"/]+)"/.exec(target.body)?.[1] ?? '?';
        const n = (inFlight.get(sub) ?? 0) + 1;
        inFlight.set(sub, n);
        if (n > 1) overlap++;
        try {
          return await nodePostConnector(target);
        } finally {
          inFlight.set(sub, (inFlight.get(sub) ?? 1) - 1);
        }
      },
    };
    instances = await startTwoInstances({ env, options: tracking }, { env, options: tracking });
    ({ a, b } = instances);
    await seed(a);
  });
  afterAll(async () => {
    await instances?.close();
    await receiver.stop();
  });

  it('writes through both instances: each event delivered once, 1..N in order, never concurrently per Subscription', async () => {
    const members = await Promise.all(Array.from({ length: 10 }, (_, i) => member(a, `in-m${i}`)));
    for (let i = 0; i < 4; i++) expectAccepted(await putSubscription(i % 2 ? a : b, { id: `in-sub-${i}`, topic: 'enrolment', endpoint: receiver.url, maxCount: 3 }));
    await eventually(() => [0, 1, 2, 3].every((i) => receiver.of(`in-sub-${i}`).some((d) => notificationType(d) === 'handshake')), 'handshakes');
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => put(i % 2 ? a : b, forMember(episode(`in-ep-${i % 10}`, 'ny-mltcp', ORGS.mltcp), members[i % 10]!))),
    );
    for (const r of results) expect([200, 201], r.body).toContain(r.statusCode);
    for (let i = 0; i < 4; i++) {
      await eventually(() => receiver.acknowledgedNumbers(`in-sub-${i}`).length >= 100, `in-sub-${i} delivered`, 120_000);
      expect(receiver.acknowledgedNumbers(`in-sub-${i}`)).toEqual(Array.from({ length: 100 }, (_, k) => k + 1));
      const ids = receiver.of(`in-sub-${i}`).filter((d) => notificationType(d) === 'event-notification').map((d) => d.headers['webhook-id']);
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(overlap).toBe(0);
  }, 240_000);
});

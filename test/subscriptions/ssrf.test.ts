// Endpoints that would reach the server's own network are refused when the Subscription is saved and
// again at send time, against the address the name resolves to then. The connect step is replaced by
// a recorder and DNS by a table, so no packet leaves this machine whatever the guard decides. Also: the
// retry budget ends in error with the reason, and payloads stop when access to the member is lost.
import type { Bundle, Subscription } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { episode, ORGS } from '../unit/coordination/builders.js';
import { expectAccepted, forMember, member, put, seed } from '../e2e/coordination/support.js';
import type { PostTarget } from '../../src/net/webhook-post.js';
import type { ResolvedAddress } from '../../src/net/outbound-guard.js';
import { SubscriptionStore } from '../../src/storage/subscription-store.js';
import type { TestServer } from '../support/server.js';
import { eventually, statusParam } from './receiver.js';
import { putSubscription, startSubscriptionServer } from './support.js';

const PUBLIC = '93.184.216.34';
const dns = new Map<string, ResolvedAddress[]>([
  ['loopback.example', [{ address: '127.0.0.1', family: 4 }]],
  ['public.example', [{ address: PUBLIC, family: 4 }]],
  ['redirect.example', [{ address: PUBLIC, family: 4 }]],
  ['rebind.example', [{ address: PUBLIC, family: 4 }]],
  ['budget.example', [{ address: PUBLIC, family: 4 }]],
  ['access.example', [{ address: PUBLIC, family: 4 }]],
]);
const connects: PostTarget[] = [];
/** Status each host answers (the recorder's reply); 302 carries a Location at a private address. */
const answers = new Map<string, number>([['redirect.example', 302], ['budget.example', 503]]);
const denied = new Set<string>();

let s: TestServer;
beforeAll(async () => {
  s = await startSubscriptionServer(
    { SUBSCRIPTION_RETRY_BASE_MS: '50', SUBSCRIPTION_RETRY_MAX_DELAY_MS: '200', SUBSCRIPTION_POLL_MS: '100', SUBSCRIPTION_RETRY_BUDGET_SECONDS: '1' },
    {
      webhookResolver: (host) => Promise.resolve(dns.get(host) ?? []),
      webhookConnector: (target) => {
        connects.push(target);
        return Promise.resolve(answers.get(target.url.hostname) ?? 200);
      },
      subscriptionAccess: (_organization, memberId) => Promise.resolve(memberId === undefined || !denied.has(memberId)),
    },
  );
  await seed(s);
});
afterAll(async () => {
  await s.close();
});

const statusOf = async (id: string): Promise<Subscription> => JSON.parse((await s.request({ method: 'GET', url: `/fhir/Subscription/${id}` })).body) as Subscription;
const contactedPrivate = (): PostTarget[] => connects.filter((c) => c.address !== PUBLIC);

describe('SSRF: refused at save', () => {
  const refused = [
    'https://127.0.0.1/hook',
    'https://[::1]/hook',
    'https://10.1.2.3/hook',
    'https://169.254.169.254/latest/meta-data/',
    'https://2130706433/hook', // decimal form of 127.0.0.1
    'https://0x7f000001/hook',
    'https://loopback.example/hook', // a name resolving to loopback
    'file:///etc/passwd',
    'http://public.example/hook', // plain http to a host nobody allow-listed
    'https://user:pw@public.example/hook',
  ];
  for (const endpoint of refused) {
    it(`refuses ${endpoint}`, async () => {
      const id = `ssrf-${refused.indexOf(endpoint)}`;
      const res = await putSubscription(s, { id, topic: 'enrolment', endpoint });
      expect(res.statusCode, res.body).toBe(422);
      expect(res.body).toContain('Subscription.channel.endpoint');
      expect((await s.request({ method: 'GET', url: `/fhir/Subscription/${id}` })).statusCode).toBe(404);
    });
  }
});

describe('SSRF: refused at send', () => {
  it('a name that does not resolve is saved, and the handshake fails with the reason (nothing contacted)', async () => {
    expectAccepted(await putSubscription(s, { id: 'ssrf-unresolved', topic: 'enrolment', endpoint: 'https://unknown.example/hook' }));
    await eventually(async () => (await statusOf('ssrf-unresolved')).status === 'error', 'handshake refused');
    expect((await statusOf('ssrf-unresolved')).error).toContain('does not resolve');
    expect(connects.some((c) => c.url.hostname === 'unknown.example')).toBe(false);
  });

  it('a 302 is a failed delivery: the redirect is not followed, only the checked public address was contacted', async () => {
    expectAccepted(await putSubscription(s, { id: 'ssrf-302', topic: 'enrolment', endpoint: 'https://redirect.example/hook' }));
    await eventually(async () => (await statusOf('ssrf-302')).status === 'error', 'handshake refused by a 302');
    expect((await statusOf('ssrf-302')).error).toContain('302');
    expect(connects.filter((c) => c.url.hostname === 'redirect.example').every((c) => c.address === PUBLIC)).toBe(true);
    expect(contactedPrivate()).toEqual([]);
  });

  it('a name re-pointed at a private address after the save is refused at send time, before any connect', async () => {
    expectAccepted(await putSubscription(s, { id: 'ssrf-rebind', topic: 'enrolment', endpoint: 'https://rebind.example/hook' }));
    await eventually(async () => (await statusOf('ssrf-rebind')).status === 'active', 'handshake to the public address');
    dns.set('rebind.example', [{ address: '10.0.0.5', family: 4 }]);
    const m = await member(s, 'ssrf-rebind');
    expectAccepted(await put(s, forMember(episode('ssrf-rebind-ep', 'ny-mltcp', ORGS.mltcp), m)));
    await eventually(async () => ((await new SubscriptionStore(s.db).state('ssrf-rebind'))?.attempts ?? 0) >= 2, 'refused attempts');
    const state = await new SubscriptionStore(s.db).state('ssrf-rebind');
    expect(state?.lastError).toContain('non-public');
    expect(state?.deliveredThrough).toBe(0);
    expect(contactedPrivate()).toEqual([]);
  });
});

describe('retry budget and access at send time', () => {
  it('past the retry budget the Subscription goes to error with the reason; nothing is dropped ($events replays)', async () => {
    answers.set('budget.example', 200);
    expectAccepted(await putSubscription(s, { id: 'budget', topic: 'enrolment', endpoint: 'https://budget.example/hook' }));
    await eventually(async () => (await statusOf('budget')).status === 'active', 'active');
    answers.set('budget.example', 503);
    const m = await member(s, 'budget');
    expectAccepted(await put(s, forMember(episode('budget-ep', 'ny-mltcp', ORGS.mltcp), m)));
    await eventually(async () => (await statusOf('budget')).status === 'error', 'error after the budget', 30_000);
    expect((await statusOf('budget')).error).toContain('retry budget');
    const events = JSON.parse((await s.request({ method: 'GET', url: '/fhir/Subscription/budget/$events' })).body) as Bundle;
    expect(statusParam(events, 'events-since-subscription-start')?.valueString).not.toBe('0');
  });

  it('when the subscriber loses access to the member, notifications keep their numbers but carry no focus', async () => {
    const m = await member(s, 'access-lost');
    expectAccepted(await putSubscription(s, { id: 'access', topic: 'enrolment', endpoint: 'https://access.example/hook', payload: 'full-resource', filters: [`EpisodeOfCare?patient=${m}`] }));
    await eventually(async () => (await statusOf('access')).status === 'active', 'active');
    denied.add(m);
    expectAccepted(await put(s, forMember(episode('access-ep', 'ny-mltcp', ORGS.mltcp), m)));
    await eventually(() => connects.some((c) => c.url.hostname === 'access.example' && c.body.includes('event-notification')), 'delivered');
    const body = connects.find((c) => c.url.hostname === 'access.example' && c.body.includes('event-notification'))!.body;
    expect(body).toContain('"event-number"');
    expect(body).not.toContain('access-ep');
  });
});

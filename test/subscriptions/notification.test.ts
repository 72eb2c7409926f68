// notificationBundle asks whether the subscriber may see a member once per member and Bundle (not once
// per event), and the Bundles stay byte-for-byte what the per-event check produced: the hashes below are
// of the output of 7e88aa0 (per-event checks) for the same input, with the random uuids numbered.
import { createHash } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { notificationBundle, type NotificationContext } from '../../src/subscriptions/notification.js';
import { EVENTS, fixtureContext, fixtureState, normalised, NOW } from './notification-fixture.js';

const GOLDEN: Record<string, string> = {
  'full-resource event-notification': 'd394fe9482c238e4b839811e9d38f0f8e4582a6bbffae40e0ae368ee79721a05',
  'id-only event-notification': 'b55239c185e8e681edd09929766ef51d39ff640c9ed2ca3d79eccdcc31a5906f',
  'empty event-notification': '8bba6b7ca65b21c2c2d70094bc54a23f3ac58bcd48ead6b5b131766b880ad2f7',
  heartbeat: '8cbddf26410ab8e9ec8629dd79654a884b7155a3e2dde2384c2c512af100c921',
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const focusRefs = (b: Bundle) =>
  (b.entry?.[0]?.resource as { parameter: { name: string; part?: { name: string; valueReference?: { reference?: string } }[] }[] }).parameter
    .filter((p) => p.name === 'notification-event')
    .map((p) => p.part?.find((x) => x.name === 'focus')?.valueReference?.reference ?? null);

describe('notification Bundle', () => {
  it('is byte-equal to the per-event-check Bundle, for every payload', async () => {
    for (const payload of ['full-resource', 'id-only', 'empty'] as const) {
      const json = normalised(JSON.stringify(await notificationBundle(fixtureState(payload), 'event-notification', EVENTS, fixtureContext(), NOW)));
      expect(sha(json), payload).toBe(GOLDEN[`${payload} event-notification`]);
      const heartbeat = normalised(JSON.stringify(await notificationBundle(fixtureState(payload), 'heartbeat', [], fixtureContext(), NOW)));
      expect(sha(heartbeat)).toBe(GOLDEN.heartbeat);
    }
  });

  it('checks access once per member of the batch, at the time of each Bundle', async () => {
    const calls: string[] = [];
    const ctx = fixtureContext(calls);
    const bundle = await notificationBundle(fixtureState('id-only'), 'event-notification', EVENTS, ctx, NOW);
    // m1 x3, m2 x3, m3, no member: four questions, not eight.
    expect(calls).toEqual(['Organization/o1|m1', 'Organization/o1|m2', 'Organization/o1|m3', 'Organization/o1|']);
    expect(focusRefs(bundle)).toEqual([
      'https://concord.example/fhir/EpisodeOfCare/e1/_history/1',
      'https://concord.example/fhir/EpisodeOfCare/e2/_history/4',
      'https://concord.example/fhir/EpisodeOfCare/e1/_history/2',
      null, // m3: not visible to the subscriber
      'https://concord.example/fhir/EpisodeOfCare/e1/_history/3',
      'https://concord.example/fhir/EpisodeOfCare/gone/_history/2',
      'https://concord.example/fhir/EpisodeOfCare/e4/_history/5',
      null, // coordination-refused: no focus
    ]);
    // The next Bundle asks again: m1 lost meanwhile is withheld from it.
    const lost: NotificationContext = { ...ctx, mayDisclose: (org, m) => (calls.push(`${org}|${m ?? ''}`), Promise.resolve(m !== 'm1' && m !== 'm3')) };
    const next = await notificationBundle(fixtureState('id-only'), 'event-notification', EVENTS, lost, NOW);
    expect(calls).toHaveLength(8);
    expect(focusRefs(next).filter((r) => r?.includes('/e1/'))).toEqual([]);
  });

  it('asks for all members at once (concurrent checks share one sync with the other instances)', async () => {
    let pending = 0;
    let most = 0;
    const ctx: NotificationContext = {
      ...fixtureContext(),
      mayDisclose: async (_org, m) => {
        most = Math.max(most, ++pending);
        await new Promise((r) => setTimeout(r, 5));
        pending--;
        return m !== 'm3';
      },
    };
    const bundle = await notificationBundle(fixtureState('id-only'), 'event-notification', EVENTS, ctx, NOW);
    expect(most).toBe(4);
    expect(focusRefs(bundle).filter((r) => r !== null)).toHaveLength(6);
  });

  it('a failing check fails the Bundle (nothing sent), even while an earlier member is still being checked', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const ctx: NotificationContext = {
        ...fixtureContext(),
        mayDisclose: (_org, m) => (m === 'm2' ? Promise.reject(new Error('access check failed')) : new Promise((r) => setTimeout(() => r(true), 20))),
      };
      await expect(notificationBundle(fixtureState('id-only'), 'event-notification', EVENTS, ctx, NOW)).rejects.toThrow('access check failed');
      await new Promise((r) => setTimeout(r, 30));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('an empty payload asks nothing', async () => {
    const calls: string[] = [];
    await notificationBundle(fixtureState('empty'), 'event-notification', EVENTS, fixtureContext(calls), NOW);
    expect(calls).toEqual([]);
  });
});

// A Subscription is its owner's (docs/adr/0008): its criteria name members and its endpoint names the
// owner's systems, so another organization's client meets it exactly as if it did not exist, through
// read, search, history, $status and $events; administrative clients see every one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAccessProjection } from '../../src/storage/member-access.js';
import { seed, startWorld, type World } from './support.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
  await seed(w);
});
afterAll(async () => w.server.close());

const subscription = (id: string) => ({
  resourceType: 'Subscription',
  id,
  status: 'requested',
  reason: 'Care management system of Plan A',
  criteria: 'CareTeam?subject=Patient/pa',
  channel: { type: 'rest-hook', endpoint: 'https://engine.plan-a.example/fhir-hook', payload: 'application/fhir+json' },
});

const total = async (token: string, url: string) => (JSON.parse((await w.as(token, 'GET', url)).body) as { total?: number }).total;

describe('Subscriptions are visible to their owner only', () => {
  it('the owner and administrative clients read, search and ask $status; another organization gets 404 and nothing', async () => {
    const created = await w.as(w.a, 'PUT', '/fhir/Subscription/sub-a', subscription('sub-a'));
    expect(created.statusCode, created.body).toBe(201);

    for (const token of [w.a, w.admin]) {
      expect((await w.as(token, 'GET', '/fhir/Subscription/sub-a')).statusCode).toBe(200);
      expect(await total(token, '/fhir/Subscription?_id=sub-a&_total=accurate')).toBe(1);
      expect((await w.as(token, 'GET', '/fhir/Subscription/sub-a/$status')).statusCode).toBe(200);
    }
    expect((await w.as(w.b, 'GET', '/fhir/Subscription/sub-a')).statusCode).toBe(404);
    expect((await w.as(w.b, 'GET', '/fhir/Subscription/sub-a/_history/1')).statusCode).toBe(404);
    expect((await w.as(w.b, 'GET', '/fhir/Subscription/sub-a/_history')).statusCode).toBe(404);
    expect(await total(w.b, '/fhir/Subscription?_total=accurate')).toBe(0);
    expect(await total(w.b, '/fhir/Subscription/_history')).toBe(0);
    expect((await w.as(w.b, 'GET', '/fhir/Subscription/sub-a/$status')).statusCode).toBe(404);
    expect((await w.as(w.b, 'GET', '/fhir/Subscription/sub-a/$events')).statusCode).toBe(404);
    expect((await w.as(w.b, 'GET', '/fhir/Subscription/sub-a/$get-ws-binding-token')).statusCode).toBe(404);
  });

  it('another organization can neither change nor delete it, nor take its id', async () => {
    await w.as(w.a, 'PUT', '/fhir/Subscription/sub-a2', subscription('sub-a2'));
    expect((await w.as(w.b, 'PUT', '/fhir/Subscription/sub-a2', { ...subscription('sub-a2'), reason: 'taken over' })).statusCode).toBe(404);
    expect((await w.as(w.b, 'DELETE', '/fhir/Subscription/sub-a2')).statusCode).toBe(404);
    const read = await w.as(w.a, 'GET', '/fhir/Subscription/sub-a2');
    expect(read.statusCode).toBe(200);
    expect((JSON.parse(read.body) as { reason: string }).reason).toBe('Care management system of Plan A');
    // Its owner still updates it.
    expect((await w.as(w.a, 'PUT', '/fhir/Subscription/sub-a2', { ...subscription('sub-a2'), reason: 'renamed' })).statusCode).toBe(200);
  });

  it('a rebuild of the access projection keeps owners, also of a deleted Subscription', async () => {
    await w.as(w.a, 'PUT', '/fhir/Subscription/sub-gone', subscription('sub-gone'));
    expect((await w.as(w.a, 'DELETE', '/fhir/Subscription/sub-gone')).statusCode).toBe(204);
    await w.server.db.query('UPDATE access_state SET version = 0');
    expect(await ensureAccessProjection(w.server.db)).toBeGreaterThan(0);
    expect((await w.as(w.a, 'GET', '/fhir/Subscription/sub-gone/_history/1')).statusCode).toBe(200);
    expect((await w.as(w.a, 'GET', '/fhir/Subscription/sub-a')).statusCode).toBe(200);
    expect((await w.as(w.b, 'GET', '/fhir/Subscription/sub-gone/_history/1')).statusCode).toBe(404);
  });
});

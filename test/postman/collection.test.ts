// The Postman collection (postman/): every request explains itself and asserts something, every rule of
// the contract is met as a refusal at least once, the committed files are what scripts/postman writes,
// and the environment and local clients file carry what the collection needs. The newman run itself is
// `npm run postman` (in .ci/run).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BootstrapError, parseBootstrapFile } from '../../src/auth/bootstrap.js';
import { FILES, render } from '../../scripts/postman/build.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (name: string): unknown => JSON.parse(readFileSync(join(ROOT, 'postman', name), 'utf8'));
const RULE_SYSTEM = 'https://concord-fhir.org/fhir/CodeSystem/rule';

interface Item {
  name: string;
  item?: Item[];
  description?: string;
  request?: { description?: string; url: unknown; auth?: unknown; body?: { raw?: string } };
  event?: { listen: string; script: { exec: string[] } }[];
}

const collection = read('Concord.postman_collection.json') as { info: { schema: string }; item: Item[]; auth: { type: string } };

function requests(items: Item[], path: string[] = []): { path: string; item: Item }[] {
  return items.flatMap((i) => (i.item ? requests(i.item, [...path, i.name]) : [{ path: [...path, i.name].join(' / '), item: i }]));
}

const all = requests(collection.item);
const testScript = (i: Item): string => (i.event ?? []).filter((e) => e.listen === 'test').flatMap((e) => e.script.exec).join('\n');

/** The contract's rule ids, from the served CodeSystem. */
const ruleIds = (JSON.parse(readFileSync(join(ROOT, 'profiles', 'CodeSystem-rule.json'), 'utf8')) as { concept: { code: string }[] }).concept.map((c) => c.code);

/** The rule ids a request's tests expect it to be refused with: a 4xx status and an issue carrying the rule. */
function refusedRules(i: Item): string[] {
  const script = testScript(i);
  if (!/pm\.response\.to\.have\.status\(4\d\d\)/.test(script) || !script.includes(RULE_SYSTEM)) return [];
  return ruleIds.filter((id) => script.includes(`c.code === "${id}"`));
}

describe('the Postman collection', () => {
  it('is a v2.1 collection with folders 1 to 6 whose auth is OAuth 2.0 client credentials', () => {
    expect(collection.info.schema).toContain('/v2.1.0/');
    expect(collection.item.map((f) => f.name)).toEqual(['1. Getting started', '2. FHIR basics', '3. New York', '4. Massachusetts', '5. Minnesota', '6. Subscriptions']);
    expect(collection.auth.type).toBe('oauth2');
    expect(JSON.stringify(collection.auth)).toContain('"client_credentials"');
    expect(all.length).toBeGreaterThan(50);
  });

  it('folder 6 subscribes over rest-hook to a topic of this server, checks $status and $events, and meets refusals', () => {
    const folder = all.filter(({ path }) => path.startsWith('6. Subscriptions / '));
    const urls = folder.map(({ item }) => {
      const url = item.request?.url as { raw?: string } | string | undefined;
      return typeof url === 'string' ? url : (url?.raw ?? '');
    });
    expect(urls.some((u) => u.endsWith('/$status'))).toBe(true);
    expect(urls.some((u) => u.includes('/$events?'))).toBe(true);
    const bodies = folder.flatMap(({ item }) => (item.request?.body?.raw ? [JSON.parse(item.request.body.raw) as { resourceType: string; criteria?: string; channel?: { type: string; endpoint: string } }] : []));
    const subs = bodies.filter((b) => b.resourceType === 'Subscription');
    expect(subs.length).toBeGreaterThanOrEqual(2);
    expect(subs.every((b) => b.channel?.type === 'rest-hook')).toBe(true);
    expect(subs[0]!.criteria).toBe('{{baseUrl}}/SubscriptionTopic/lead-care-manager');
    expect(subs[0]!.channel!.endpoint).toBe('{{webhookUrl}}');
    expect(folder.filter(({ item }) => testScript(item).includes('pm.response.to.have.status(422)')).length).toBeGreaterThanOrEqual(2);
    const env = read('Concord.postman_environment.json') as { values: { key: string; value: string }[] };
    expect(env.values.find((v) => v.key === 'webhookUrl')?.value).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('every request has a description and at least one pm.test', () => {
    const missing = all.filter(({ item }) => !(item.request?.description ?? '').trim() || !/pm\.test\(/.test(testScript(item))).map((r) => r.path);
    expect(missing).toEqual([]);
  });

  it('every folder says what it is about', () => {
    expect(collection.item.filter((f) => !(f.description ?? '').trim()).map((f) => f.name)).toEqual([]);
  });

  it('the contract has 14 rules and each is exercised by a request that expects its refusal', () => {
    expect(ruleIds).toHaveLength(14);
    const exercised = new Set(all.flatMap(({ item }) => refusedRules(item)));
    expect(ruleIds.filter((id) => !exercised.has(id))).toEqual([]);
  });

  it('counts a refusal only where the test expects a 4xx (a $validate report does not count)', () => {
    const validate = all.find(({ path }) => path.includes('check a second lead with $validate'));
    expect(validate).toBeDefined();
    expect(testScript(validate!.item)).toContain('single-lead');
    expect(refusedRules(validate!.item)).toEqual([]);
  });

  it('the committed files are what scripts/postman/build.ts writes (run npm run postman:build)', () => {
    for (const [name, build] of Object.entries(FILES)) {
      expect(readFileSync(join(ROOT, 'postman', name), 'utf8'), name).toBe(render(build()));
    }
  });

  it('the environment defines every variable the collection uses but does not set itself', () => {
    const text = JSON.stringify(collection);
    const used = new Set([...text.matchAll(/\{\{([A-Za-z]+)\}\}/g)].map((m) => m[1]!));
    const setByCollection = new Set([...text.matchAll(/pm\.collectionVariables\.set\((?:\\"|')([A-Za-z]+)/g)].map((m) => m[1]!));
    const env = read('Concord.postman_environment.json') as { values: { key: string; value: string }[] };
    const defined = new Set(env.values.map((v) => v.key));
    const missing = [...used].filter((v) => !setByCollection.has(v) && !defined.has(v));
    expect(missing).toEqual([]);
    expect(defined.has('baseUrl')).toBe(true);
  });

  it('the local clients file registers every client of the environment, with its secret, on loopback only', () => {
    const text = readFileSync(join(ROOT, 'postman', 'local-clients.json'), 'utf8');
    const clients = parseBootstrapFile(text, { loopback: true });
    const env = read('Concord.postman_environment.json') as { values: { key: string; value: string }[] };
    const value = (key: string) => env.values.find((v) => v.key === key)?.value;
    for (const key of env.values.map((v) => v.key).filter((k) => k.endsWith('ClientId'))) {
      const client = clients.find((c) => c.id === value(key));
      expect(client, key).toBeDefined();
      expect(client!.secret).toBe(value(key.replace(/ClientId$/, 'ClientSecret')));
    }
    expect(clients.filter((c) => c.admin)).toHaveLength(1);
    expect(() => parseBootstrapFile(text, { loopback: false })).toThrow(BootstrapError);
  });
});

// The OpenAPI description and its interactive page: generated from the CapabilityStatement (a path and
// an operation for every type and interaction listed there), public with authentication on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { startAuthServer } from '../auth/support.js';
import { startTestServer, type TestServer } from '../support/server.js';

type Doc = {
  openapi: string;
  info: { title: string; version: string };
  servers: { url: string }[];
  paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown>; parameters?: { name?: string; $ref?: string }[]; security?: unknown[] }> & { servers?: { url: string }[] }>;
  components: { securitySchemes?: Record<string, { type: string; flows?: { clientCredentials?: { tokenUrl: string } } }>; parameters: Record<string, unknown>; responses: Record<string, unknown>; schemas: Record<string, unknown> };
  security?: unknown[];
};

const METHOD: Record<string, [string, string]> = {
  read: ['/{T}/{id}', 'get'],
  vread: ['/{T}/{id}/_history/{vid}', 'get'],
  update: ['/{T}/{id}', 'put'],
  patch: ['/{T}/{id}', 'patch'],
  delete: ['/{T}/{id}', 'delete'],
  'history-instance': ['/{T}/{id}/_history', 'get'],
  'history-type': ['/{T}/_history', 'get'],
  create: ['/{T}', 'post'],
  'search-type': ['/{T}', 'get'],
};

/** Every $ref in the document resolves inside it. */
function unresolvedRefs(doc: unknown): string[] {
  const bad: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') {
          const target = x.replace(/^#\//, '').split('/').reduce<unknown>((o, p) => (o as Record<string, unknown> | undefined)?.[p], doc);
          if (target === undefined) bad.push(x);
        } else walk(x);
      }
    }
  };
  walk(doc);
  return bad;
}

describe('OpenAPI with authentication on', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startAuthServer();
  });
  afterAll(async () => server.close());

  it('serves an OpenAPI 3 document without a token, mapping every type and interaction of the CapabilityStatement', async () => {
    const res = await server.request({ method: 'GET', url: '/fhir/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBeUndefined();
    const doc = JSON.parse(res.body) as Doc;
    expect(doc.openapi).toMatch(/^3\.0\.\d$/);
    expect(doc.info.title).toContain('Concord');
    expect(doc.servers).toEqual([{ url: 'http://concord.test/fhir' }]);
    // ~2.5 MB: shared components keep it from growing per operation.
    expect(res.body.length).toBeLessThan(3_500_000);
    expect(unresolvedRefs(doc)).toEqual([]);

    const capability = JSON.parse((await server.request({ method: 'GET', url: '/fhir/metadata' })).body) as CapabilityStatement;
    const resources = capability.rest![0]!.resource!;
    expect(resources.length).toBeGreaterThan(140);
    const operationIds = new Set<string>();
    for (const r of resources) {
      for (const { code } of r.interaction ?? []) {
        const [template, method] = METHOD[code]!;
        const op = doc.paths[template.replace('{T}', r.type)]?.[method];
        expect(op, `${r.type} ${code}`).toBeDefined();
        expect(Object.keys(op!.responses ?? {}).length, `${r.type} ${code}`).toBeGreaterThan(0);
      }
      // Type-level operations ($validate) at /T/$op; instance-only ones (Patient $coordination-form) at /T/{id}/$op.
      for (const o of r.operation ?? []) expect(doc.paths[`/${r.type}/$${o.name}`]?.post ?? doc.paths[`/${r.type}/{id}/$${o.name}`]?.post, `${r.type} $${o.name}`).toBeDefined();
      // Every search parameter of the type is a query parameter of its search.
      const names = new Set((doc.paths[`/${r.type}`]!.get!.parameters ?? []).map((p) => (p.$ref ? (doc.components.parameters[p.$ref.split('/').pop()!] as { name: string }).name : p.name)));
      for (const p of r.searchParam ?? []) expect(names.has(p.name), `${r.type}?${p.name}`).toBe(true);
    }
    const resolve = (p: { name?: string; in?: string; $ref?: string }) => (p.$ref ? (doc.components.parameters[p.$ref.split('/').pop()!] as { name: string; in: string }) : p);
    for (const [path, item] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      for (const [method, op] of Object.entries(item)) {
        if (method === 'servers') continue;
        const o = op as { operationId?: string; parameters?: { name?: string; in?: string; $ref?: string }[] };
        expect(operationIds.has(o.operationId!), `duplicate operationId ${o.operationId}`).toBe(false);
        operationIds.add(o.operationId!);
        // OpenAPI: every path template has its path parameter; (name, in) pairs are unique per operation.
        const params = (o.parameters ?? []).map(resolve);
        for (const t of templated) expect(params.some((p) => p.name === t && p.in === 'path'), `${method} ${path} {${t}}`).toBe(true);
        const keys = params.map((p) => `${p.in}:${p.name}`);
        expect(new Set(keys).size, `${method} ${path} parameters`).toBe(keys.length);
      }
    }
    // Profiles (in each type's tag) and system interactions.
    const careTeam = resources.find((r) => r.type === 'CareTeam')!;
    expect(careTeam.supportedProfile?.length).toBeGreaterThan(0);
    const tag = (doc as unknown as { tags: { name: string; description?: string }[] }).tags.find((t) => t.name === 'CareTeam')!;
    for (const url of careTeam.supportedProfile!) expect(tag.description).toContain(url);
    expect(doc.paths['/']!.post).toBeDefined();
    expect(doc.paths['/_history']!.get).toBeDefined();
  });

  it('declares SMART Backend Services: an oauth2 client-credentials scheme with the token endpoint, public routes unsecured', async () => {
    const doc = JSON.parse((await server.request({ method: 'GET', url: '/fhir/openapi.json' })).body) as Doc;
    expect(doc.components.securitySchemes!.smart).toMatchObject({ type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'http://concord.test/auth/token' } } });
    expect(doc.security).toEqual([{ smart: [] }]);
    expect(doc.paths['/metadata']!.get!.security).toEqual([]);
    expect(doc.paths['/auth/token']!.servers).toEqual([{ url: 'http://concord.test' }]);
    expect(doc.paths['/auth/token']!.post!.security).toEqual([]);
  });

  it('serves the interactive page without a token', async () => {
    const page = await server.request({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('swagger');
    const init = await server.request({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(init.statusCode).toBe(200);
    const json = await server.request({ method: 'GET', url: '/docs/json' });
    expect(json.statusCode).toBe(200);
    expect(JSON.parse(json.body)).toEqual(JSON.parse((await server.request({ method: 'GET', url: '/fhir/openapi.json' })).body));
  });
});

describe('OpenAPI with authentication off', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.close());

  it('has no security scheme and no token endpoint', async () => {
    const res = await server.request({ method: 'GET', url: '/fhir/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body) as Doc;
    expect(doc.components.securitySchemes).toBeUndefined();
    expect(doc.security).toBeUndefined();
    expect(doc.paths['/auth/token']).toBeUndefined();
    expect(doc.paths['/Patient/{id}']!.get).toBeDefined();
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { exceedsJsonDepth } from '../../src/http/json-depth.js';

describe('configuration from the environment', () => {
  it('has working defaults: port 8080, embedded store in ./data, 5 MiB bodies', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, dataDir: './data', maxBodyBytes: 5 * 1024 * 1024, logLevel: 'info' });
    expect(c.databaseUrl).toBeUndefined();
  });

  it('reads every variable and strips a trailing slash from BASE_URL', () => {
    const c = loadConfig({ PORT: '9000', HOST: '127.0.0.1', DATABASE_URL: 'postgres://x@h/db', CONCORD_DATA_DIR: '/var/lib/concord', BASE_URL: 'https://fhir.example.org/fhir/', LOG_LEVEL: 'warn', MAX_BODY_BYTES: '2048' });
    expect(c).toMatchObject({ port: 9000, host: '127.0.0.1', databaseUrl: 'postgres://x@h/db', dataDir: '/var/lib/concord', baseUrl: 'https://fhir.example.org/fhir', logLevel: 'warn', maxBodyBytes: 2048 });
  });

  it('refuses invalid values instead of guessing', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ MAX_BODY_BYTES: '-1' })).toThrow(/MAX_BODY_BYTES/);
    expect(() => loadConfig({ BASE_URL: 'fhir.example.org' })).toThrow(/BASE_URL/);
    expect(() => loadConfig({ CONCORD_RULES: 'maybe' })).toThrow(/CONCORD_RULES/);
    expect(loadConfig({ CONCORD_RULES: 'off' }).rulesEnabled).toBe(false);
    expect(loadConfig({}).rulesEnabled).toBe(true);
  });

  it('collects once when quiet after 32 MB of growth unless IDLE_GC_MB says otherwise (0: off)', () => {
    expect(loadConfig({}).idleGcMb).toBe(32);
    expect(loadConfig({ IDLE_GC_MB: '0' }).idleGcMb).toBe(0);
    expect(() => loadConfig({ IDLE_GC_MB: 'some' })).toThrow(/IDLE_GC_MB/);
  });

  it('bounds V8 heap growth to 50 % of the live heap unless HEAP_GROWING_PERCENT says otherwise (0: V8 decides)', () => {
    expect(loadConfig({}).heapGrowingPercent).toBe(50);
    expect(loadConfig({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: 'lots' })).toThrow(/HEAP_GROWING_PERCENT/);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: '-5' })).toThrow(/HEAP_GROWING_PERCENT/);
  });
});

describe('read cache with other instances', () => {
  it('reads the row instead of syncing by default; READ_CACHE_WITH_PEERS=sync keeps the sync; anything else is refused', () => {
    expect(loadConfig({}).readCacheWithPeers).toBe('database');
    expect(loadConfig({ READ_CACHE_WITH_PEERS: 'sync' }).readCacheWithPeers).toBe('sync');
    expect(() => loadConfig({ READ_CACHE_WITH_PEERS: 'cache' })).toThrow(/READ_CACHE_WITH_PEERS must be one of 'database', 'sync'/);
  });
});

describe('subscription delivery settings', () => {
  it('defaults to a 10 ms batch window and 8 Subscriptions served at once; reads and checks both', () => {
    expect(loadConfig({}).subscriptions).toMatchObject({ batchWindowMs: 10, batchWindowMaxMs: 30, concurrency: 8 });
    expect(loadConfig({ SUBSCRIPTION_BATCH_WINDOW_MAX_MS: '0' }).subscriptions).toMatchObject({ batchWindowMs: 10, batchWindowMaxMs: 0 });
    expect(loadConfig({ SUBSCRIPTION_BATCH_WINDOW_MS: '0', SUBSCRIPTION_WORKERS: '3' }).subscriptions).toMatchObject({ batchWindowMs: 0, concurrency: 3 });
    expect(() => loadConfig({ SUBSCRIPTION_BATCH_WINDOW_MS: '-1' })).toThrow(/SUBSCRIPTION_BATCH_WINDOW_MS/);
    expect(() => loadConfig({ SUBSCRIPTION_WORKERS: '0' })).toThrow(/SUBSCRIPTION_WORKERS/);
  });
});

describe('JSON depth guard', () => {
  it('counts nesting outside strings only', () => {
    expect(exceedsJsonDepth('{"a":[[1]]}', 3)).toBe(false);
    expect(exceedsJsonDepth('{"a":[[[1]]]}', 3)).toBe(true);
    expect(exceedsJsonDepth('{"a":"[[[[[[\\"[[[["}', 2)).toBe(false);
  });
});

describe('access control configuration', () => {
  it('is on by default; CONCORD_AUTH=off only with a loopback HOST', () => {
    expect(loadConfig({}).auth.enabled).toBe(true);
    expect(loadConfig({}).host).toBe('127.0.0.1'); // reachable from other machines only when HOST says so
    expect(() => loadConfig({ CONCORD_AUTH: 'off', HOST: '0.0.0.0' })).toThrow(/CONCORD_AUTH=off is only allowed when HOST is a loopback address/);
    expect(() => loadConfig({ CONCORD_AUTH: 'off', HOST: '10.0.0.5' })).toThrow(/loopback/);
    for (const HOST of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(loadConfig({ CONCORD_AUTH: 'off', HOST }).auth.enabled).toBe(false);
  });

  it('reads CORS origins, token lifetime and rate limit', () => {
    const c = loadConfig({ CORS_ORIGINS: 'https://a.example.org, https://b.example.org', ACCESS_TOKEN_TTL_SECONDS: '120', RATE_LIMIT_PER_MINUTE: '10' });
    expect(c.auth).toMatchObject({ corsOrigins: ['https://a.example.org', 'https://b.example.org'], accessTokenTtlSeconds: 120, rateLimitPerMinute: 10 });
    expect(loadConfig({}).auth).toMatchObject({ corsOrigins: [], accessTokenTtlSeconds: 300 });
    expect(() => loadConfig({ CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
  });

  it('reads CONCORD_BOOTSTRAP_CLIENTS, which makes no sense with CONCORD_AUTH=off', () => {
    expect(loadConfig({}).auth.bootstrapClientsFile).toBeUndefined();
    expect(loadConfig({ CONCORD_BOOTSTRAP_CLIENTS: 'clients.json' }).auth.bootstrapClientsFile).toBe('clients.json');
    expect(() => loadConfig({ CONCORD_BOOTSTRAP_CLIENTS: 'clients.json', CONCORD_AUTH: 'off', HOST: '127.0.0.1' })).toThrow(/CONCORD_BOOTSTRAP_CLIENTS/);
  });
});

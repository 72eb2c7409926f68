// Keys by URL: a real fetch from a JWKS server on 127.0.0.1, reachable only because the operator's
// allow-list names it; without the allow-list the same client cannot authenticate.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { makeKeys, requestToken, startAuthServer, type TestClient } from './support.js';

let jwksServer: Server;
let port: number;
let keys: TestClient;
let fetches = 0;
let allowed: TestServer;
let guarded: TestServer;

beforeAll(async () => {
  keys = await makeKeys('url-client', 'RS384');
  jwksServer = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [keys.publicJwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  port = (jwksServer.address() as AddressInfo).port;
  allowed = await startAuthServer({ JWKS_ALLOWED_HOSTS: `127.0.0.1:${port}` });
  guarded = await startAuthServer();
  for (const s of [allowed, guarded]) await s.clients!.add({ clientId: 'url-client', scopes: 'system/*.rs', enabled: true, jwksUrl: `http://127.0.0.1:${port}/jwks.json` });
});
afterAll(async () => {
  await Promise.all([allowed.close(), guarded.close()]);
  await new Promise((resolve) => jwksServer.close(resolve));
});

describe('JWKS by URL', () => {
  it('authenticates with keys fetched from an allow-listed host, and caches them', async () => {
    expect((await requestToken(allowed, keys, 'system/*.rs')).statusCode).toBe(200);
    expect((await requestToken(allowed, keys, 'system/*.rs')).statusCode).toBe(200);
    expect(fetches).toBe(1);
  });

  it('refuses the same client when its JWKS URL is not allow-listed (loopback, http)', async () => {
    const before = fetches;
    const res = await requestToken(guarded, keys, 'system/*.rs');
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_client' });
    expect(fetches).toBe(before);
  });
});

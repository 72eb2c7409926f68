// `npm run seed` against a server with authentication on: refused without credentials, loads with a
// client secret (token fetched by the seed) or with a ready access token.
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { main } from '../../scripts/seed/main.js';
import type { TestServer } from '../support/server.js';
import { accessToken, registerClient, startAuthServer } from './support.js';

let server: TestServer;
let url: string;

beforeAll(async () => {
  server = await startAuthServer();
  const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
  url = `${address}/fhir`;
  await registerClient(server, 'seeder', { secret: 'seed-secret', scopes: 'system/*.cruds' });
});
afterAll(async () => server.close());

it('needs credentials, and seeds with client credentials or a token', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    expect(await main(['--scenario', 'mn', '--url', url])).toBe(1);
    expect(log.mock.calls.flat().join('\n')).toContain('CONCORD_TOKEN');
    expect(await main(['--scenario', 'mn', '--url', url, '--client-id', 'seeder', '--client-secret', 'seed-secret'])).toBe(0);
    // The server's token URL is aud for assertions; the seed's own token request goes to the listening port.
    const token = await accessToken(server, await registerClient(server, 'seeder-jwt'));
    expect(await main(['--scenario', 'mn', '--url', url, '--token', token])).toBe(0);
    expect(await main(['--scenario', 'mn', '--url', url, '--client-id', 'seeder', '--client-secret', 'wrong'])).toBe(1);
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
});

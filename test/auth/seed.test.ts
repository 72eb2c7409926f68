// `npm run seed` against a server with authentication on: refused without credentials, loads with a
// client secret (token fetched by the seed) or with a ready access token.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { registerSeedClients, type SeedClientCredentials } from '../../scripts/seed/clients.js';
import { DEFAULT_CLIENTS_FILE, main, parseCommandLine, seed } from '../../scripts/seed/main.js';
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
    // It says how to register a client per seeded organization (and prints no secret).
    expect(log.mock.calls.flat().join('\n')).toMatch(/npm run clients -- add --id seed-\S+ --organization Organization\/\S+ --scopes "system\/\*\.cruds" --secret/);
    expect(log.mock.calls.flat().join('\n')).not.toContain('seed-secret');
    // The server's token URL is aud for assertions; the seed's own token request goes to the listening port.
    const token = await accessToken(server, await registerClient(server, 'seeder-jwt'));
    expect(await main(['--scenario', 'mn', '--url', url, '--token', token])).toBe(0);
    expect(await main(['--scenario', 'mn', '--url', url, '--client-id', 'seeder', '--client-secret', 'wrong'])).toBe(1);
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
});

it('registers one client per seeded organization, secrets only in an owner-only file', async () => {
  const token = await accessToken(server, await registerClient(server, 'seeder-orgs'));
  const { organizations } = await seed(url, 'ny', () => undefined, token);
  expect(organizations.map((o) => o.key).sort()).toHaveLength(5);
  const dir = await mkdtemp(join(tmpdir(), 'concord-seed-'));
  try {
    const file = join(dir, 'clients.json');
    const lines: string[] = [];
    const created = await registerSeedClients(organizations, server.clients!, file, (l) => lines.push(l));
    expect(created).toHaveLength(5);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8')) as SeedClientCredentials[];
    expect(stored.map((c) => c.clientId)).toEqual(created.map((c) => c.clientId));
    for (const c of stored) {
      expect(lines.join('\n')).not.toContain(c.clientSecret);
      expect(c.organization).toMatch(/^Organization\/[A-Za-z0-9\-.]+$/);
      expect((await server.clients!.get(c.clientId))?.organization).toBe(c.organization);
      // The secret gets a token (client_secret_basic), and the token reads.
      const basic = Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64');
      const res = await server.request({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` }, payload: 'grant_type=client_credentials&scope=system%2F*.rs' });
      expect(res.statusCode).toBe(200);
      const access = (JSON.parse(res.body) as { access_token: string }).access_token;
      expect((await server.request({ method: 'GET', url: '/fhir/Organization', headers: { authorization: `Bearer ${access}` } })).statusCode).toBe(200);
    }
    // Running again keeps the registered clients and their secrets.
    const again: string[] = [];
    expect(await registerSeedClients(organizations, server.clients!, join(dir, 'again.json'), (l) => again.push(l))).toEqual([]);
    expect(again.filter((l) => l.includes('already registered'))).toHaveLength(5);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('takes --register-clients with an optional --clients-file', () => {
  expect(parseCommandLine(['--scenario', 'ny', '--register-clients'], {}).registerClients).toEqual({ file: DEFAULT_CLIENTS_FILE });
  expect(parseCommandLine(['--scenario', 'ny', '--register-clients', '--clients-file', 'x.json'], {}).registerClients).toEqual({ file: 'x.json' });
  expect(() => parseCommandLine(['--scenario', 'ny', '--clients-file', 'x.json'], {})).toThrow(/--register-clients/);
});

it('npm run seed --register-clients registers the clients in the server database and prints no secret', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'concord-seed-'));
  try {
    const file = join(dir, 'clients.json');
    const open = () => Promise.resolve({ admin: server.clients!, close: () => Promise.resolve() });
    expect(await main(['--scenario', 'ma', '--url', url, '--client-id', 'seeder', '--client-secret', 'seed-secret', '--register-clients', '--clients-file', file], open)).toBe(0);
    const stored = JSON.parse(await readFile(file, 'utf8')) as SeedClientCredentials[];
    expect(stored).toHaveLength(5);
    const output = log.mock.calls.flat().join('\n');
    for (const c of stored) {
      expect(output).toContain(c.clientId);
      expect(output).not.toContain(c.clientSecret);
    }
    // Without a database to open, it says so and prints the commands instead.
    log.mockClear();
    expect(await main(['--scenario', 'ma', '--url', url, '--client-id', 'seeder', '--client-secret', 'seed-secret', '--register-clients', '--clients-file', join(dir, 'none.json')], () => Promise.resolve(undefined))).toBe(0);
    expect(log.mock.calls.flat().join('\n')).toContain('--register-clients needs DATABASE_URL');
  } finally {
    log.mockRestore();
    error.mockRestore();
    await rm(dir, { recursive: true, force: true });
  }
});

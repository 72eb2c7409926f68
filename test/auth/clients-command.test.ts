// The clients command line over the real client table.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClientsCommand, UsageError } from '../../src/auth/clients-command.js';
import { verifySecret } from '../../src/auth/secrets.js';
import type { Database } from '../../src/storage/database.js';
import { ClientStore } from '../../src/storage/auth-store.js';
import { openTestDatabase } from '../support/db.js';
import { makeKeys } from './support.js';

let db: Database;
let store: ClientStore;
let dir: string;
const lines: string[] = [];
const run = (...argv: string[]) => runClientsCommand(argv, { clients: store, baseUrl: 'http://localhost:8080/fhir', out: (l) => lines.push(l) });

beforeAll(async () => {
  db = await openTestDatabase();
  store = new ClientStore(db);
  dir = await mkdtemp(join(tmpdir(), 'concord-clients-'));
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('npm run clients', () => {
  it('adds a client with a JWKS file, lists, disables and enables it', async () => {
    const keys = await makeKeys('plan-a-app');
    const file = join(dir, 'jwks.json');
    await writeFile(file, JSON.stringify({ keys: [keys.publicJwk] }));
    await run('add', '--id', 'plan-a-app', '--organization', 'Organization/plan-a', '--scopes', 'system/CareTeam.rs system/*.read', '--jwks-file', file);
    expect(await store.get('plan-a-app')).toMatchObject({ organization: 'Organization/plan-a', scopes: 'system/CareTeam.rs system/*.read', enabled: true, jwks: { keys: [{ kid: keys.kid }] } });
    await run('disable', '--id', 'plan-a-app');
    expect((await store.get('plan-a-app'))?.enabled).toBe(false);
    await run('enable', '--id', 'plan-a-app');
    expect((await store.get('plan-a-app'))?.enabled).toBe(true);
    lines.length = 0;
    await run('list');
    expect(lines.join('\n')).toMatch(/plan-a-app\tenabled\tOrganization\/plan-a/);
  });

  it('adds an administrative client with a generated secret, shown once and stored hashed', async () => {
    lines.length = 0;
    await run('add', '--id', 'local-dev', '--admin', '--scopes', 'system/*.cruds', '--secret');
    const secret = /client secret .*: (\S+)$/.exec(lines.find((l) => l.startsWith('client secret'))!)![1]!;
    const stored = await store.get('local-dev');
    expect(stored?.organization).toBeUndefined();
    expect(stored?.secretHash).toMatch(/^scrypt\$/);
    expect(stored?.secretHash).not.toContain(secret);
    expect(await verifySecret(secret, stored!.secretHash!)).toBe(true);
    expect(lines.join('\n')).toContain('http://localhost:8080/auth/token');
    await run('rotate-keys', '--id', 'local-dev', '--secret');
    expect(await verifySecret(secret, (await store.get('local-dev'))!.secretHash!)).toBe(false);
  });

  it('refuses bad input and changes nothing', async () => {
    const before = await store.count();
    await expect(run('add', '--id', 'x', '--scopes', 'system/*.cruds', '--secret')).rejects.toBeInstanceOf(UsageError);
    await expect(run('add', '--id', 'x', '--admin', '--scopes', 'system/Patient.rs?category=a', '--secret')).rejects.toThrow(/unsupported scopes/);
    await expect(run('add', '--id', 'x', '--organization', 'plan-a', '--scopes', 'system/*.rs', '--secret')).rejects.toThrow(/Organization/);
    await expect(run('add', '--id', 'x', '--admin', '--scopes', 'system/*.rs')).rejects.toThrow(/--secret/);
    const privateFile = join(dir, 'private.json');
    await writeFile(privateFile, JSON.stringify({ keys: [{ kty: 'EC', kid: 'k', crv: 'P-384', x: 'a', y: 'b', d: 'secret' }] }));
    await expect(run('add', '--id', 'x', '--admin', '--scopes', 'system/*.rs', '--jwks-file', privateFile)).rejects.toThrow(/private/);
    await expect(run('add', '--id', 'local-dev', '--admin', '--scopes', 'system/*.rs', '--secret')).rejects.toThrow(/already exists/);
    await expect(run('disable', '--id', 'nobody')).rejects.toThrow(/no client/);
    expect(await store.count()).toBe(before);
  });
});

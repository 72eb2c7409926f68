// Clients registered at startup (src/auth/bootstrap.ts) over the real client table: the
// CONCORD_BOOTSTRAP_CLIENTS file and the local development client of a fresh embedded store.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BootstrapError,
  LOCAL_DEV_CLIENT,
  LOCAL_DEV_SECRET_FILE,
  bootstrapClients,
  ensureLocalDevClient,
  localDevCommands,
  parseBootstrapFile,
} from '../../src/auth/bootstrap.js';
import { hashSecret, verifySecret } from '../../src/auth/secrets.js';
import type { Database } from '../../src/storage/database.js';
import { ClientStore } from '../../src/storage/auth-store.js';
import { openTestDatabase } from '../support/db.js';

let db: Database;
let store: ClientStore;
let dir: string;

beforeAll(async () => {
  db = await openTestDatabase();
  store = new ClientStore(db);
  dir = await mkdtemp(join(tmpdir(), 'concord-bootstrap-'));
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const file = (clients: unknown[]) => JSON.stringify({ clients });
const SECRET = 'a-test-secret-of-some-length';

describe('parseBootstrapFile', () => {
  it('reads organization and admin clients, bare array or { clients }', () => {
    const list = [
      { id: 'plan-app', organization: 'Organization/plan', scopes: 'system/*.cruds', secret: SECRET },
      { id: 'ops', admin: true, scopes: 'system/*.read  system/AuditEvent.rs', secret: SECRET },
    ];
    const parsed = parseBootstrapFile(file(list), { loopback: true });
    expect(parsed).toEqual([
      { id: 'plan-app', organization: 'Organization/plan', scopes: 'system/*.cruds', secret: SECRET },
      { id: 'ops', admin: true, scopes: 'system/*.read system/AuditEvent.rs', secret: SECRET },
    ]);
    expect(parseBootstrapFile(JSON.stringify(list), { loopback: true })).toEqual(parsed);
  });

  it('refuses plain secrets unless the server listens on loopback; hashes are accepted anywhere', async () => {
    const plain = file([{ id: 'plan-app', organization: 'Organization/plan', scopes: 'system/*.cruds', secret: SECRET }]);
    expect(() => parseBootstrapFile(plain, { loopback: false })).toThrow(/only when HOST is a loopback address/);
    const hashed = file([{ id: 'plan-app', organization: 'Organization/plan', scopes: 'system/*.cruds', secretHash: await hashSecret(SECRET) }]);
    expect(parseBootstrapFile(hashed, { loopback: false })).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['no list', '{"client": []}', /expected/],
    ['bad id', file([{ id: 'a b', admin: true, scopes: 'system/*.cruds', secret: SECRET }]), /clients\[0\]\.id/],
    ['organization and admin', file([{ id: 'x', admin: true, organization: 'Organization/a', scopes: 'system/*.cruds', secret: SECRET }]), /organization or "admin"/],
    ['neither', file([{ id: 'x', scopes: 'system/*.cruds', secret: SECRET }]), /organization or "admin"/],
    ['bad organization', file([{ id: 'x', organization: 'Practitioner/a', scopes: 'system/*.cruds', secret: SECRET }]), /Organization\/<id>/],
    ['bad scope', file([{ id: 'x', admin: true, scopes: 'patient/*.read', secret: SECRET }]), /scopes/],
    ['no credentials', file([{ id: 'x', admin: true, scopes: 'system/*.cruds' }]), /secret, secretHash or jwks/],
    ['short secret', file([{ id: 'x', admin: true, scopes: 'system/*.cruds', secret: 'short' }]), /at least 16/],
    ['unknown field', file([{ id: 'x', admin: true, scopes: 'system/*.cruds', secret: SECRET, role: 'x' }]), /unknown field/],
    ['private key in jwks', file([{ id: 'x', admin: true, scopes: 'system/*.cruds', jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'a', y: 'b', d: 'c', kid: 'k' }] } }]), /jwks/],
    ['listed twice', file([{ id: 'x', admin: true, scopes: 'system/*.cruds', secret: SECRET }, { id: 'x', admin: true, scopes: 'system/*.cruds', secret: SECRET }]), /twice/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseBootstrapFile(text, { loopback: true })).toThrow(BootstrapError);
    expect(() => parseBootstrapFile(text, { loopback: true })).toThrow(message);
  });
});

describe('bootstrapClients', () => {
  const wanted = () =>
    parseBootstrapFile(
      file([
        { id: 'boot-plan', organization: 'Organization/plan', scopes: 'system/*.cruds', secret: SECRET },
        { id: 'boot-admin', admin: true, scopes: 'system/*.cruds', secret: `${SECRET}-admin` },
      ]),
      { loopback: true },
    );

  it('registers the listed clients with hashed secrets', async () => {
    expect(await bootstrapClients(store, wanted())).toEqual({ added: ['boot-plan', 'boot-admin'], updated: [] });
    const plan = await store.get('boot-plan');
    expect(plan).toMatchObject({ organization: 'Organization/plan', scopes: 'system/*.cruds', enabled: true });
    expect(plan!.secretHash).not.toContain(SECRET);
    expect(await verifySecret(SECRET, plan!.secretHash!)).toBe(true);
    expect((await store.get('boot-admin'))!.organization).toBeUndefined();
  });

  it('is idempotent: a second start registers nothing new, and a changed secret replaces the old one', async () => {
    const before = await store.count();
    expect(await bootstrapClients(store, wanted())).toEqual({ added: [], updated: ['boot-plan', 'boot-admin'] });
    expect(await store.count()).toBe(before);
    const rotated = parseBootstrapFile(file([{ id: 'boot-plan', organization: 'Organization/plan', scopes: 'system/*.cruds', secret: `${SECRET}-new` }]), { loopback: true });
    await bootstrapClients(store, rotated);
    const hash = (await store.get('boot-plan'))!.secretHash!;
    expect(await verifySecret(`${SECRET}-new`, hash)).toBe(true);
    expect(await verifySecret(SECRET, hash)).toBe(false);
  });

  it('keeps a client the operator disabled disabled', async () => {
    await store.setEnabled('boot-admin', false);
    await bootstrapClients(store, wanted());
    expect((await store.get('boot-admin'))!.enabled).toBe(false);
  });

  it('stops when a registered client has another organization or other scopes, changing nothing', async () => {
    const other = parseBootstrapFile(file([{ id: 'boot-plan', organization: 'Organization/other', scopes: 'system/*.cruds', secret: 'another-secret-value' }]), { loopback: true });
    await expect(bootstrapClients(store, other)).rejects.toThrow(/already registered for Organization\/plan/);
    const scopes = parseBootstrapFile(file([{ id: 'boot-plan', organization: 'Organization/plan', scopes: 'system/*.rs', secret: 'another-secret-value' }]), { loopback: true });
    await expect(bootstrapClients(store, scopes)).rejects.toThrow(BootstrapError);
    expect(await store.get('boot-plan')).toMatchObject({ organization: 'Organization/plan', scopes: 'system/*.cruds' });
    expect(await verifySecret(SECRET, (await store.get('boot-plan'))!.secretHash!)).toBe(true);
  });
});

describe('ensureLocalDevClient', () => {
  it('on an empty registry: registers local-dev (admin) and keeps its secret in an owner-only file of the data dir', async () => {
    const fresh = await openTestDatabase();
    try {
      const clients = new ClientStore(fresh);
      const devDir = await mkdtemp(join(dir, 'data-'));
      const first = await ensureLocalDevClient(clients, devDir);
      expect(first).toEqual({ created: true, secretFile: join(devDir, LOCAL_DEV_SECRET_FILE) });
      const secret = (await readFile(first!.secretFile, 'utf8')).trim();
      expect(secret.length).toBeGreaterThanOrEqual(40);
      expect((await stat(first!.secretFile)).mode & 0o077).toBe(0);
      const client = await clients.get(LOCAL_DEV_CLIENT);
      expect(client).toMatchObject({ scopes: 'system/*.cruds', enabled: true });
      expect(client!.organization).toBeUndefined();
      expect(await verifySecret(secret, client!.secretHash!)).toBe(true);

      // The next start reuses it and prints the commands again; nothing new is registered.
      expect(await ensureLocalDevClient(clients, devDir)).toEqual({ created: false, secretFile: first!.secretFile });
      expect(await clients.count()).toBe(1);
      expect((await readFile(first!.secretFile, 'utf8')).trim()).toBe(secret);

      // Rotated, disabled, or without its file: no commands that would not work.
      await clients.setCredentials(LOCAL_DEV_CLIENT, { secretHash: await hashSecret('rotated-by-the-operator') });
      expect(await ensureLocalDevClient(clients, devDir)).toBeUndefined();
      await clients.setCredentials(LOCAL_DEV_CLIENT, { secretHash: await hashSecret(secret) });
      expect(await ensureLocalDevClient(clients, devDir)).toEqual({ created: false, secretFile: first!.secretFile });
      await clients.setEnabled(LOCAL_DEV_CLIENT, false);
      expect(await ensureLocalDevClient(clients, devDir)).toBeUndefined();
      expect(await ensureLocalDevClient(clients, await mkdtemp(join(dir, 'other-')))).toBeUndefined();
    } finally {
      await fresh.close();
    }
  });

  it('registers nothing when other clients exist', async () => {
    const before = await store.count();
    expect(await ensureLocalDevClient(store, await mkdtemp(join(dir, 'data-')))).toBeUndefined();
    expect(await store.count()).toBe(before);
    expect(await store.get(LOCAL_DEV_CLIENT)).toBeUndefined();
  });

  it('prints commands that read the secret from its file, never the secret itself', () => {
    const [token, read] = localDevCommands('http://127.0.0.1:8080/fhir', './data/local-dev-client.secret');
    expect(token).toContain('$(cat ./data/local-dev-client.secret)');
    expect(token).toContain('http://127.0.0.1:8080/auth/token');
    expect(read).toContain("'http://127.0.0.1:8080/fhir/Patient?_count=1'");
  });
});

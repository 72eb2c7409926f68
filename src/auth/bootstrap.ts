// Clients registered at startup, for the cases where the command line cannot reach the store: the
// embedded store admits one process, so `npm run clients` cannot register anything while the server runs.
// - CONCORD_BOOTSTRAP_CLIENTS=<file>: the clients a test harness (npm run postman) or a local setup needs,
//   registered idempotently through the same registry as the command line.
// - A fresh embedded store on a loopback HOST: a local development admin client, so a newcomer's
//   `npm start` ends with a working token command (issue 10's "first request within a minute").
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { ORGANIZATION_REFERENCE, type ClientAdmin, type RegisteredClient } from './clients.js';
import { assertPublicJwks } from './jwks.js';
import { parseScope } from './scopes.js';
import { generateSecret, hashSecret, verifySecret } from './secrets.js';

export class BootstrapError extends Error {}

/** One entry of the bootstrap file. */
export interface BootstrapClient {
  id: string;
  /** `Organization/<id>`; exactly one of organization and admin. */
  organization?: string;
  admin?: boolean;
  scopes: string;
  /** A plain secret: accepted only when the server listens on loopback (a test or local machine). */
  secret?: string;
  /** An scrypt hash as `npm run clients` stores it (`scrypt$...`): accepted anywhere. */
  secretHash?: string;
  jwks?: JSONWebKeySet;
}

const ID = /^[A-Za-z0-9._~-]{1,128}$/;
const KNOWN = new Set(['id', 'organization', 'admin', 'scopes', 'secret', 'secretHash', 'jwks']);

function entry(raw: unknown, i: number): BootstrapClient {
  const where = `clients[${i}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BootstrapError(`${where} must be an object`);
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KNOWN.has(k));
  if (unknown.length) throw new BootstrapError(`${where}: unknown field(s) ${unknown.join(', ')}`);
  if (typeof o.id !== 'string' || !ID.test(o.id)) throw new BootstrapError(`${where}.id: letters, digits and . _ ~ - only`);
  const organization = o.organization;
  if (organization !== undefined && (typeof organization !== 'string' || !ORGANIZATION_REFERENCE.test(organization))) {
    throw new BootstrapError(`${where}.organization must look like Organization/<id>`);
  }
  if (o.admin !== undefined && typeof o.admin !== 'boolean') throw new BootstrapError(`${where}.admin must be true or false`);
  if ((organization !== undefined) === (o.admin === true)) throw new BootstrapError(`${where}: give organization or "admin": true`);
  const scopes = typeof o.scopes === 'string' ? o.scopes.split(/\s+/).filter((s) => s !== '') : [];
  if (scopes.length === 0 || scopes.some((s) => !parseScope(s))) throw new BootstrapError(`${where}.scopes: SMART system scopes, e.g. "system/*.cruds"`);
  if (o.secret !== undefined && (typeof o.secret !== 'string' || o.secret.length < 16)) throw new BootstrapError(`${where}.secret must be a string of at least 16 characters`);
  if (o.secretHash !== undefined && (typeof o.secretHash !== 'string' || !o.secretHash.startsWith('scrypt$'))) throw new BootstrapError(`${where}.secretHash must be an scrypt hash`);
  if (o.secret !== undefined && o.secretHash !== undefined) throw new BootstrapError(`${where}: give secret or secretHash, not both`);
  let jwks: JSONWebKeySet | undefined;
  if (o.jwks !== undefined) {
    try {
      jwks = assertPublicJwks(o.jwks);
    } catch (err) {
      throw new BootstrapError(`${where}.jwks: ${(err as Error).message}`);
    }
  }
  if (o.secret === undefined && o.secretHash === undefined && jwks === undefined) throw new BootstrapError(`${where}: give secret, secretHash or jwks`);
  return {
    id: o.id,
    scopes: scopes.join(' '),
    ...(typeof organization === 'string' ? { organization } : { admin: true }),
    ...(typeof o.secret === 'string' ? { secret: o.secret } : {}),
    ...(typeof o.secretHash === 'string' ? { secretHash: o.secretHash } : {}),
    ...(jwks ? { jwks } : {}),
  };
}

/** The file's clients: `{ "clients": [...] }` or the bare array. */
export function parseBootstrapFile(text: string, options: { loopback: boolean }): BootstrapClient[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BootstrapError('not valid JSON');
  }
  const list = Array.isArray(doc) ? doc : typeof doc === 'object' && doc !== null ? (doc as { clients?: unknown }).clients : undefined;
  if (!Array.isArray(list)) throw new BootstrapError('expected { "clients": [ ... ] }');
  const clients = list.map(entry);
  const ids = clients.map((c) => c.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new BootstrapError(`client '${dup}' is listed twice`);
  // A plain secret in a file is fit for a test or a developer's machine only: a server reachable from
  // other machines takes hashed secrets or keys.
  const plain = clients.filter((c) => c.secret !== undefined).map((c) => c.id);
  if (plain.length && !options.loopback) {
    throw new BootstrapError(`plain secrets (${plain.join(', ')}) are accepted only when HOST is a loopback address; give secretHash or jwks`);
  }
  return clients;
}

export interface BootstrapResult {
  added: string[];
  updated: string[];
}

/**
 * Registers the clients that are missing and refreshes the credentials of those already registered
 * with the same organization and scopes, so a second start with the same file changes nothing a caller
 * can observe. A registered client whose organization or scopes differ is an operator's decision the
 * file must not silently override: startup stops. A disabled client stays disabled.
 */
export async function bootstrapClients(clients: ClientAdmin, wanted: BootstrapClient[]): Promise<BootstrapResult> {
  const result: BootstrapResult = { added: [], updated: [] };
  for (const c of wanted) {
    const secretHash = c.secretHash ?? (c.secret !== undefined ? await hashSecret(c.secret) : undefined);
    const existing = await clients.get(c.id);
    if (!existing) {
      const client: RegisteredClient = {
        clientId: c.id,
        scopes: c.scopes,
        enabled: true,
        ...(c.organization ? { organization: c.organization } : {}),
        ...(c.jwks ? { jwks: c.jwks } : {}),
        ...(secretHash ? { secretHash } : {}),
      };
      await clients.add(client);
      result.added.push(c.id);
      continue;
    }
    if ((existing.organization ?? null) !== (c.organization ?? null) || existing.scopes !== c.scopes) {
      throw new BootstrapError(
        `client '${c.id}' is already registered for ${existing.organization ?? 'admin'} with scopes '${existing.scopes}'; the file says ${c.organization ?? 'admin'} '${c.scopes}' (change it with npm run clients, or rename it in the file)`,
      );
    }
    await clients.setCredentials(c.id, { ...(c.jwks ? { jwks: c.jwks } : {}), ...(secretHash ? { secretHash } : {}) });
    result.updated.push(c.id);
  }
  return result;
}

export const LOCAL_DEV_CLIENT = 'local-dev';
export const LOCAL_DEV_SCOPES = 'system/*.cruds';
/** Beside the embedded store's files (in its data dir, which git ignores). */
export const LOCAL_DEV_SECRET_FILE = 'local-dev-client.secret';

async function readSecret(file: string): Promise<string | undefined> {
  try {
    const s = (await readFile(file, 'utf8')).trim();
    return s === '' ? undefined : s;
  } catch {
    return undefined;
  }
}

/**
 * On an embedded store with no client registered: registers the local development admin client and
 * keeps its random secret in a file of the data dir (owner-only). Returns the secret file when the
 * local-dev client can be used with it (just created, or created by an earlier start), else undefined.
 */
export async function ensureLocalDevClient(clients: ClientAdmin, dataDir: string): Promise<{ created: boolean; secretFile: string } | undefined> {
  const secretFile = join(dataDir, LOCAL_DEV_SECRET_FILE);
  if ((await clients.count()) === 0) {
    const secret = generateSecret();
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
    await chmod(secretFile, 0o600);
    await clients.add({ clientId: LOCAL_DEV_CLIENT, scopes: LOCAL_DEV_SCOPES, enabled: true, secretHash: await hashSecret(secret) });
    return { created: true, secretFile };
  }
  // Print the commands again only if they would work: the client is enabled and the file still holds its
  // secret (not one replaced since by `npm run clients -- rotate-keys`).
  const existing = await clients.get(LOCAL_DEV_CLIENT);
  const secret = await readSecret(secretFile);
  if (existing?.enabled && existing.secretHash && secret !== undefined && (await verifySecret(secret, existing.secretHash))) return { created: false, secretFile };
  return undefined;
}

/** The two commands a newcomer pastes: one gets a token, the other reads with it. The secret stays in its file. */
export function localDevCommands(baseUrl: string, secretFile: string): string[] {
  const tokenUrl = `${baseUrl.replace(/\/fhir$/, '')}/auth/token`;
  return [
    `TOKEN=$(curl -s -u "${LOCAL_DEV_CLIENT}:$(cat ${secretFile})" -d grant_type=client_credentials -d 'scope=${LOCAL_DEV_SCOPES}' ${tokenUrl} | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `curl -s -H "Authorization: Bearer $TOKEN" '${baseUrl}/Patient?_count=1'`,
  ];
}

// SQL for access control (migrations/0004_auth_clients.sql): the client registry, the used assertion ids
// and the server's token signing keys.
import type { JSONWebKeySet, JWK } from 'jose';
import type { ClientAdmin, JtiStore, RegisteredClient, SigningKeyStore, StoredSigningKey } from '../auth/clients.js';
import { ChangeListener } from './change-listener.js';
import type { Database, Queryable } from './database.js';

const PREPARED = { prepare: true } as const;

interface ClientRow {
  client_id: string;
  organization: string | null;
  scopes: string;
  jwks: JSONWebKeySet | string | null;
  jwks_url: string | null;
  secret_hash: string | null;
  enabled: boolean;
}

const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

function toClient(row: ClientRow): RegisteredClient {
  return {
    clientId: row.client_id,
    scopes: row.scopes,
    enabled: row.enabled,
    ...(row.organization ? { organization: row.organization } : {}),
    ...(row.jwks ? { jwks: json(row.jwks) } : {}),
    ...(row.jwks_url ? { jwksUrl: row.jwks_url } : {}),
    ...(row.secret_hash ? { secretHash: row.secret_hash } : {}),
  };
}

const COLUMNS = 'client_id, organization, scopes, jwks, jwks_url, secret_hash, enabled';

/** Channel on which every change of a client is announced (PostgreSQL), per Concord schema. */
const channelOf = (db: Database): string | undefined => (db.kind === 'postgres' ? `concord_clients_${db.namespace}` : undefined);
const CACHE_MAX = 10_000;

/**
 * The registry. Authentication reads a client on every request, so reads are cached per instance and
 * every change is announced (pg_notify) to all instances, which drop the entry: a disabled client is
 * refused on its next request everywhere. On PostgreSQL the cache is used only while the listener is
 * connected; PGlite is single-process (the command line cannot open it while the server runs), so every
 * change passes through this object.
 */
export class ClientStore implements ClientAdmin {
  private readonly channel: string | undefined;
  private readonly cache = new Map<string, RegisteredClient | null>();
  private cacheEnabled: boolean;
  /** Bumped on every invalidation: a read that started before one must not fill the cache. */
  private generation = 0;
  private listener: ChangeListener | undefined;

  constructor(private readonly db: Database) {
    this.channel = channelOf(db);
    this.cacheEnabled = this.channel === undefined;
  }

  /** Starts listening for changes made by other instances and the command line (PostgreSQL). */
  async listen(): Promise<void> {
    if (!this.channel) return;
    this.listener = new ChangeListener(this.db, this.channel, {
      onChange: (clientId) => this.invalidate(clientId),
      onConnected: () => {
        this.invalidate();
        this.cacheEnabled = true;
      },
      onLost: () => {
        this.cacheEnabled = false;
        this.invalidate();
      },
    });
    await this.listener.start();
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }

  private invalidate(clientId?: string): void {
    this.generation++;
    if (clientId === undefined) this.cache.clear();
    else this.cache.delete(clientId);
  }

  private async changed(clientId: string): Promise<void> {
    this.invalidate(clientId);
    if (this.channel) await this.db.query('SELECT pg_notify($1, $2)', [this.channel, clientId]);
  }

  cached(clientId: string): RegisteredClient | null | undefined {
    return this.cacheEnabled ? this.cache.get(clientId) : undefined;
  }

  async get(clientId: string): Promise<RegisteredClient | undefined> {
    if (this.cacheEnabled) {
      const hit = this.cache.get(clientId);
      if (hit !== undefined) return hit ?? undefined;
    }
    const generation = this.generation;
    const { rows } = await this.db.query<ClientRow>(`SELECT ${COLUMNS} FROM auth_client WHERE client_id = $1`, [clientId], PREPARED);
    const client = rows[0] ? toClient(rows[0]) : undefined;
    if (this.cacheEnabled && generation === this.generation) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(clientId, client ?? null);
    }
    return client;
  }

  async add(c: RegisteredClient): Promise<void> {
    await this.db.query(
      `INSERT INTO auth_client (client_id, organization, scopes, jwks, jwks_url, secret_hash, enabled) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)`,
      [c.clientId, c.organization ?? null, c.scopes, c.jwks ? JSON.stringify(c.jwks) : null, c.jwksUrl ?? null, c.secretHash ?? null, c.enabled],
    );
    await this.changed(c.clientId);
  }

  async list(): Promise<RegisteredClient[]> {
    const { rows } = await this.db.query<ClientRow>(`SELECT ${COLUMNS} FROM auth_client ORDER BY client_id`);
    return rows.map(toClient);
  }

  async count(): Promise<number> {
    const { rows } = await this.db.query<{ n: string | number }>('SELECT count(*) AS n FROM auth_client');
    return Number(rows[0]?.n ?? 0);
  }

  async setEnabled(clientId: string, enabled: boolean): Promise<boolean> {
    const r = await this.db.query('UPDATE auth_client SET enabled = $2, updated_at = now() WHERE client_id = $1', [clientId, enabled]);
    await this.changed(clientId);
    return r.rowCount > 0;
  }

  async setCredentials(clientId: string, credentials: { jwks?: JSONWebKeySet; jwksUrl?: string; secretHash?: string | null }): Promise<boolean> {
    const keys = credentials.jwks !== undefined || credentials.jwksUrl !== undefined;
    const r = await this.db.query(
      `UPDATE auth_client SET
         jwks = CASE WHEN $2 THEN $3::jsonb ELSE jwks END,
         jwks_url = CASE WHEN $2 THEN $4 ELSE jwks_url END,
         secret_hash = CASE WHEN $5 THEN $6 ELSE secret_hash END,
         updated_at = now()
       WHERE client_id = $1`,
      [
        clientId,
        keys,
        credentials.jwks ? JSON.stringify(credentials.jwks) : null,
        credentials.jwksUrl ?? null,
        credentials.secretHash !== undefined,
        credentials.secretHash ?? null,
      ],
    );
    await this.changed(clientId);
    return r.rowCount > 0;
  }
}

export class JtiTable implements JtiStore {
  constructor(private readonly q: Queryable) {}

  async remember(clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    // The primary key decides between concurrent instances: exactly one insert wins.
    const r = await this.q.query(
      'INSERT INTO auth_jti (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [clientId, jti, expiresAt.toISOString()],
      PREPARED,
    );
    return r.rowCount === 1;
  }

  async purgeExpired(now: Date): Promise<number> {
    const r = await this.q.query('DELETE FROM auth_jti WHERE expires_at < $1', [now.toISOString()]);
    return r.rowCount;
  }
}

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: JWK | string;
}

const toKey = (r: KeyRow): StoredSigningKey => ({ kid: r.kid, alg: r.alg, privateJwk: json(r.private_jwk) });

export class SigningKeyTable implements SigningKeyStore {
  constructor(private readonly q: Queryable) {}

  async newest(): Promise<StoredSigningKey | undefined> {
    const { rows } = await this.q.query<KeyRow>('SELECT kid, alg, private_jwk FROM auth_signing_key ORDER BY created_at DESC, kid LIMIT 1');
    return rows[0] ? toKey(rows[0]) : undefined;
  }

  async byKid(kid: string): Promise<StoredSigningKey | undefined> {
    const { rows } = await this.q.query<KeyRow>('SELECT kid, alg, private_jwk FROM auth_signing_key WHERE kid = $1', [kid]);
    return rows[0] ? toKey(rows[0]) : undefined;
  }

  async add(key: StoredSigningKey): Promise<void> {
    await this.q.query('INSERT INTO auth_signing_key (kid, alg, private_jwk) VALUES ($1, $2, $3::jsonb)', [key.kid, key.alg, JSON.stringify(key.privateJwk)]);
  }
}

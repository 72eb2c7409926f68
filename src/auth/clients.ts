// The client model and the storage interfaces the auth logic needs (implemented in src/storage/).
import type { JSONWebKeySet, JWK } from 'jose';

export interface RegisteredClient {
  clientId: string;
  /** `Organization/<id>` the client acts for; undefined for administrative clients. */
  organization?: string;
  /** Registered SMART scopes, space-separated: the most a token may be granted. */
  scopes: string;
  /** Public keys by value, or a URL to fetch them from (never both). */
  jwks?: JSONWebKeySet;
  jwksUrl?: string;
  /** scrypt hash of a client secret (src/auth/secrets.ts), when the client may use one. */
  secretHash?: string;
  enabled: boolean;
}

export interface ClientRegistry {
  get(clientId: string): Promise<RegisteredClient | undefined>;
  /**
   * The cached registration, synchronously: undefined when not cached (or no cache can be trusted now),
   * null when cached as absent. The object is replaced, never mutated, when the client changes.
   */
  cached?(clientId: string): RegisteredClient | null | undefined;
}

/** What the command line manages. */
export interface ClientAdmin extends ClientRegistry {
  add(client: RegisteredClient): Promise<void>;
  list(): Promise<RegisteredClient[]>;
  count(): Promise<number>;
  setEnabled(clientId: string, enabled: boolean): Promise<boolean>;
  /** Replaces the key source; secret undefined keeps the current one, null removes it. */
  setCredentials(clientId: string, credentials: { jwks?: JSONWebKeySet; jwksUrl?: string; secretHash?: string | null }): Promise<boolean>;
}

export interface JtiStore {
  /** Records a client's assertion id until it expires; false when it was already recorded (a replay). */
  remember(clientId: string, jti: string, expiresAt: Date): Promise<boolean>;
  purgeExpired(now: Date): Promise<number>;
}

export interface StoredSigningKey {
  kid: string;
  alg: string;
  privateJwk: JWK;
}

export interface SigningKeyStore {
  newest(): Promise<StoredSigningKey | undefined>;
  byKid(kid: string): Promise<StoredSigningKey | undefined>;
  add(key: StoredSigningKey): Promise<void>;
}

export const ORGANIZATION_REFERENCE = /^Organization\/[A-Za-z0-9\-.]{1,64}$/;

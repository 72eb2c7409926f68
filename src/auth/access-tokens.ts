// Access tokens: JWTs (RFC 9068 `at+jwt`) signed by the server with ES256. The signing key lives in the
// database (auth_signing_key) so every instance over one database verifies every other's tokens without
// operator-distributed key material; the newest stored key signs, any stored key verifies (found by kid).
// Whoever can read that table can mint tokens, but whoever can read the database already reads all data.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, decodeProtectedHeader, type CryptoKey, type JWK, type KeyObject } from 'jose';
import type { SigningKeyStore } from './clients.js';
import type { ScopeSet } from './scopes.js';

const ALG = 'ES256';
const TYP = 'at+jwt';
export const TOKEN_ISSUER = 'urn:concord:auth';
const VERIFIED_MAX = 10_000;

type Key = CryptoKey | KeyObject | Uint8Array;

export interface AccessTokenClaims {
  clientId: string;
  organization?: string;
  scope: string;
  expiresAt: number;
}

export class AccessTokens {
  private signing: { kid: string; key: Key } | undefined;
  private readonly verifying = new Map<string, Key>();
  /** Tokens already verified (a client reuses its token for many requests); expiry is checked on each use. */
  private readonly verified = new Map<string, AccessTokenClaims>();

  constructor(
    private readonly store: SigningKeyStore,
    readonly ttlSeconds: number,
  ) {}

  /** Loads the newest signing key, creating the first one when the database has none. */
  async init(): Promise<void> {
    let stored = await this.store.newest();
    if (!stored) {
      const { privateKey } = await generateKeyPair(ALG, { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      await this.store.add({ kid: randomUUID(), alg: ALG, privateJwk });
      stored = (await this.store.newest())!;
    }
    this.signing = { kid: stored.kid, key: await importJWK(stored.privateJwk, ALG) };
  }

  async issue(clientId: string, organization: string | undefined, scopes: ScopeSet, now = Date.now()): Promise<{ token: string; expiresIn: number }> {
    if (!this.signing) throw new Error('AccessTokens.init() was not called');
    const iat = Math.floor(now / 1000);
    const token = await new SignJWT({ client_id: clientId, scope: scopes.toString(), ...(organization ? { organization } : {}) })
      .setProtectedHeader({ alg: ALG, typ: TYP, kid: this.signing.kid })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(clientId)
      .setAudience(TOKEN_ISSUER)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.signing.key);
    return { token, expiresIn: this.ttlSeconds };
  }

  private async verifyingKey(kid: string): Promise<Key | undefined> {
    const known = this.verifying.get(kid);
    if (known) return known;
    const stored = await this.store.byKid(kid);
    if (!stored) return undefined;
    // Public half only: verification never needs the private key in memory twice.
    const { d: _d, ...publicJwk } = stored.privateJwk;
    const key = await importJWK(publicJwk, ALG);
    this.verifying.set(kid, key);
    return key;
  }

  /** The token's claims, or undefined when it is not a valid, unexpired token of this server. */
  async verify(token: string, now = Date.now()): Promise<AccessTokenClaims | undefined> {
    const known = this.verified.get(token);
    if (known) {
      if (known.expiresAt * 1000 > now) return known;
      this.verified.delete(token);
      return undefined;
    }
    const claims = await this.verifyOnce(token, now);
    if (claims) {
      if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
      this.verified.set(token, claims);
    }
    return claims;
  }

  private async verifyOnce(token: string, now: number): Promise<AccessTokenClaims | undefined> {
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== ALG || header.typ !== TYP || typeof header.kid !== 'string') return undefined;
      const key = await this.verifyingKey(header.kid);
      if (!key) return undefined;
      const { payload } = await jwtVerify(token, key, {
        algorithms: [ALG],
        typ: TYP,
        issuer: TOKEN_ISSUER,
        audience: TOKEN_ISSUER,
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(now),
      });
      if (typeof payload.sub !== 'string' || typeof payload.scope !== 'string') return undefined;
      return {
        clientId: payload.sub,
        scope: payload.scope,
        expiresAt: payload.exp!,
        ...(typeof payload.organization === 'string' ? { organization: payload.organization } : {}),
      };
    } catch {
      return undefined;
    }
  }
}

export type { JWK };

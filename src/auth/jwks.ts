// A client's public keys: registered by value, or fetched from its JWKS URL through the outbound guard
// (cached; fetched again when an assertion names a key the cached set lacks, at most once per
// REFETCH_MS per client so a stream of bogus kids cannot make Concord hammer the URL).
import type { JSONWebKeySet } from 'jose';
import type { OutboundGuard } from '../net/outbound-guard.js';
import type { RegisteredClient } from './clients.js';

const TTL_MS = 5 * 60_000;
const REFETCH_MS = 30_000;

interface Cached {
  url: string;
  keys: JSONWebKeySet;
  fetchedAt: number;
}

export class JwksSource {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly guard: OutboundGuard) {}

  async keys(client: RegisteredClient, options: { wantKid?: string } = {}): Promise<JSONWebKeySet> {
    if (client.jwks) return client.jwks;
    if (!client.jwksUrl) return { keys: [] };
    const now = Date.now();
    const cached = this.cache.get(client.clientId);
    const fresh = cached && cached.url === client.jwksUrl && now - cached.fetchedAt < TTL_MS;
    const missing = options.wantKid !== undefined && !cached?.keys.keys.some((k) => k.kid === options.wantKid);
    if (fresh && !(missing && now - cached.fetchedAt >= REFETCH_MS)) return cached.keys;
    const response = await this.guard.get(client.jwksUrl);
    const parsed = JSON.parse(response.body) as unknown;
    if (!isJwks(parsed)) throw new Error('JWKS URL did not answer a JSON Web Key Set');
    this.cache.set(client.clientId, { url: client.jwksUrl, keys: parsed, fetchedAt: now });
    return parsed;
  }
}

export function isJwks(value: unknown): value is JSONWebKeySet {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { keys?: unknown }).keys) &&
    (value as { keys: unknown[] }).keys.every((k) => typeof k === 'object' && k !== null && typeof (k as { kty?: unknown }).kty === 'string')
  );
}

/** A JWKS as registered: public keys only (a private member would mean the client leaked its key to us). */
export function assertPublicJwks(value: unknown): JSONWebKeySet {
  if (!isJwks(value)) throw new Error('not a JSON Web Key Set ({"keys": [...]})');
  for (const k of value.keys) {
    if (!k.kid) throw new Error('every key needs a kid');
    if (k.kty !== 'RSA' && k.kty !== 'EC') throw new Error(`key ${k.kid}: kty must be RSA or EC`);
    if ('d' in k || 'p' in k || 'q' in k) throw new Error(`key ${k.kid} contains private parts; register the public key only`);
  }
  return value;
}

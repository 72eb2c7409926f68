// Client authentication by signed JWT assertion (SMART App Launch 2.x, Backend Services; RFC 7523),
// checked exactly as the specification lists: RS384 or ES384 only; `kid` and key type matching exactly
// one registered key; iss = sub = client id; aud = this token endpoint's URL; exp not passed and at most
// five minutes ahead; a jti never accepted before for the client (recorded in the database, so replays are
// refused across instances).
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import type { ClientRegistry, JtiStore, RegisteredClient } from './clients.js';
import type { JwksSource } from './jwks.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'] as const;
const KTY: Record<string, string> = { RS384: 'RSA', ES384: 'EC' };
const MAX_LIFETIME_SECONDS = 300;

/** Why an assertion was refused: logged for operators, never told to the client (it gets invalid_client). */
export class ClientAuthError extends Error {
  constructor(
    readonly reason: string,
    readonly clientId?: string,
  ) {
    super(reason);
    this.name = 'ClientAuthError';
  }
}

export interface AssertionDeps {
  registry: ClientRegistry;
  jwks: JwksSource;
  jtis: JtiStore;
  now?: () => number;
}

function selectKey(keys: JWK[], kid: string, alg: string): JWK {
  const matching = keys.filter((k) => k.kid === kid && k.kty === KTY[alg] && (k.alg === undefined || k.alg === alg) && (k.use === undefined || k.use === 'sig'));
  if (matching.length !== 1) throw new ClientAuthError(matching.length === 0 ? `no registered key matches kid '${kid}'` : `several registered keys match kid '${kid}'`);
  return matching[0]!;
}

export async function verifyClientAssertion(assertion: string, tokenUrl: string, deps: AssertionDeps): Promise<RegisteredClient> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw new ClientAuthError('assertion is not a JWT');
  }
  const alg = header.alg ?? '';
  // Refused before any key is touched: `none`, HMAC (a public key used as a shared secret), anything else.
  if (!(ASSERTION_ALGORITHMS as readonly string[]).includes(alg)) throw new ClientAuthError(`alg '${alg}' is not accepted`);
  if (typeof header.kid !== 'string' || header.kid === '') throw new ClientAuthError('assertion header has no kid');
  const clientId = claims.iss;
  if (typeof clientId !== 'string' || clientId === '') throw new ClientAuthError('assertion has no iss');
  if (claims.sub !== clientId) throw new ClientAuthError('iss and sub differ', clientId);
  const client = await deps.registry.get(clientId);
  if (!client) throw new ClientAuthError('unknown client', clientId);
  if (!client.enabled) throw new ClientAuthError('client is disabled', clientId);
  let jwk: JWK;
  try {
    jwk = selectKey((await deps.jwks.keys(client, { wantKid: header.kid })).keys, header.kid, alg);
  } catch (err) {
    throw err instanceof ClientAuthError ? new ClientAuthError(err.reason, clientId) : new ClientAuthError(`client keys unavailable: ${(err as Error).message}`, clientId);
  }
  const now = Math.floor((deps.now ?? Date.now)() / 1000);
  try {
    await jwtVerify(assertion, await importJWK(jwk, alg), {
      algorithms: [alg],
      issuer: clientId,
      subject: clientId,
      audience: tokenUrl,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'jti'],
      currentDate: new Date(now * 1000),
    });
  } catch (err) {
    throw new ClientAuthError(`assertion rejected: ${(err as Error).message}`, clientId);
  }
  const exp = claims.exp!;
  if (exp > now + MAX_LIFETIME_SECONDS) throw new ClientAuthError('exp is more than five minutes ahead', clientId);
  if (typeof claims.jti !== 'string' || claims.jti === '') throw new ClientAuthError('assertion has no jti', clientId);
  if (!(await deps.jtis.remember(clientId, claims.jti, new Date(exp * 1000)))) throw new ClientAuthError('jti already used', clientId);
  return client;
}

// The authenticated read path's cache: a verified token's context is reused until the token expires,
// without a promise, and only while the client's registration is unchanged.
import { describe, expect, it } from 'vitest';
import type { AccessTokenClaims, AccessTokens } from '../../src/auth/access-tokens.js';
import { Authenticator } from '../../src/auth/authorize.js';
import type { ClientRegistry, RegisteredClient } from '../../src/auth/clients.js';
import { FhirError } from '../../src/fhir/outcome.js';

const NOW = 1_800_000_000_000;

function setup() {
  let verifications = 0;
  const tokens = {
    verify: (token: string, now: number): Promise<AccessTokenClaims | undefined> => {
      verifications++;
      const exp = Number(token.split('.')[1]);
      return Promise.resolve(exp * 1000 > now ? { clientId: 'c1', scope: 'system/*.rs', expiresAt: exp } : undefined);
    },
  } as unknown as AccessTokens;
  const registry = {
    client: { clientId: 'c1', scopes: 'system/Patient.rs', enabled: true } as RegisteredClient,
    get(): Promise<RegisteredClient | undefined> {
      return Promise.resolve(this.client);
    },
    cached(): RegisteredClient | null | undefined {
      return this.client;
    },
  } satisfies ClientRegistry & { client: RegisteredClient };
  return { auth: new Authenticator(tokens, registry), registry, verifications: () => verifications };
}

const bearer = (exp: number, n = 0) => `Bearer t${n}.${exp}.sig`;

describe('Authenticator', () => {
  it('verifies a token once and answers later requests synchronously', async () => {
    const { auth, verifications } = setup();
    const exp = NOW / 1000 + 300;
    const first = await auth.authenticate(bearer(exp), NOW);
    expect(first.scopes.allows('Patient', 'r')).toBe(true);
    expect(first.scopes.allows('Observation', 'r')).toBe(false);
    const second = auth.authenticate(bearer(exp), NOW + 1000);
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toBe(first);
    expect(verifications()).toBe(1);
  });

  it('refuses the cached token once it expires', async () => {
    const { auth } = setup();
    const exp = NOW / 1000 + 300;
    await auth.authenticate(bearer(exp), NOW);
    expect(() => auth.authenticate(bearer(exp), exp * 1000)).toThrow(FhirError);
  });

  it('rebuilds the context when the client registration changes, and refuses a disabled client', async () => {
    const { auth, registry, verifications } = setup();
    const exp = NOW / 1000 + 300;
    await auth.authenticate(bearer(exp), NOW);
    registry.client = { ...registry.client, scopes: 'system/Observation.rs' };
    const after = await auth.authenticate(bearer(exp), NOW);
    expect(after.scopes.allows('Patient', 'r')).toBe(false);
    expect(after.scopes.allows('Observation', 'r')).toBe(true);
    expect(verifications()).toBe(2);
    registry.client = { ...registry.client, enabled: false };
    await expect(Promise.resolve().then(() => auth.authenticate(bearer(exp), NOW))).rejects.toMatchObject({ status: 401 });
  });

  it('is bounded: the oldest token is forgotten first', async () => {
    const { auth, verifications } = setup();
    const exp = NOW / 1000 + 300;
    for (let i = 0; i <= 10_000; i++) await auth.authenticate(bearer(exp, i), NOW);
    expect(verifications()).toBe(10_001);
    expect(auth.authenticate(bearer(exp, 10_000), NOW)).not.toBeInstanceOf(Promise);
    await auth.authenticate(bearer(exp, 0), NOW);
    expect(verifications()).toBe(10_002);
  });
});

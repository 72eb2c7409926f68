// Authentication and scope checks for the FHIR routes (registered inside the /fhir plugin), the token
// endpoint and the SMART configuration document. With authentication off (loopback only) requests carry
// no AuthContext and nothing is checked.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { assertAdministrative, assertAllowed, bundleEntryAccess, type Authenticator } from '../auth/authorize.js';
import type { AuthContext } from '../auth/context.js';
import { ASSERTION_ALGORITHMS } from '../auth/assertion.js';
import type { TokenService } from '../auth/token-service.js';
import { FhirError, issue } from '../fhir/outcome.js';
import type { EntryAccess } from '../fhir/bundle-service.js';
import { accessRequestOf, PUBLIC_ROUTES } from './access.js';
import { noteTokenRequest } from './audit.js';
import { header } from './negotiation.js';
import { baseUrlOf } from './responses.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated client; null when the route is public or authentication is off. */
    auth: AuthContext | null;
  }
}

export interface AuthServices {
  authenticator: Authenticator;
  tokens: TokenService;
  /** Registered scopes a deployment advertises in scopes_supported. */
  scopesSupported: string[];
}

/** The token endpoint sits next to the FHIR base: https://x/fhir -> https://x/auth/token. */
export function tokenUrlOf(request: FastifyRequest, configuredBaseUrl: string | undefined): string {
  return `${baseUrlOf(request, configuredBaseUrl).replace(/\/fhir$/, '')}/auth/token`;
}

/** Called once on the root instance, before any route is declared. */
export function decorateAuth(app: FastifyInstance): void {
  app.decorateRequest('auth', null);
}

/** Hooks for the /fhir plugin: authenticate on request, check scopes once the body is parsed. */
export function fhirAuthHooks(fhir: FastifyInstance, auth: AuthServices): void {
  // Callback style: a known token authenticates without a promise (most requests).
  fhir.addHook('onRequest', (request, _reply, done) => {
    if (PUBLIC_ROUTES.has(request.routeOptions.url ?? '')) return done();
    try {
      const context = auth.authenticator.authenticate(header(request, 'authorization'));
      if (!(context instanceof Promise)) {
        request.auth = context;
        return done();
      }
      context.then(
        (c) => {
          request.auth = c;
          done();
        },
        (err: Error) => done(err),
      );
    } catch (err) {
      done(err as Error);
    }
  });
  fhir.addHook('preHandler', (request, _reply, done) => {
    const context = request.auth;
    try {
      if (context) {
        const access = accessRequestOf(request as FastifyRequest<{ Params: Record<string, string | undefined> }>);
        if (access === 'unmapped') throw new FhirError(403, issue('forbidden', 'This operation is not available to clients'));
        if (access === 'admin') assertAdministrative(context);
        else if (access !== 'none' && access !== 'bundle') assertAllowed(context, access);
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  });
}

/** The Bundle service's per-entry check for a request (undefined when nothing is checked). */
export function bundleAuthorizer(request: FastifyRequest): ((entry: EntryAccess) => void) | undefined {
  const context = request.auth;
  if (!context) return undefined;
  return (entry) => assertAllowed(context, bundleEntryAccess(entry), `Bundle.entry[${entry.index}] (${entry.method} ${entry.type}): `);
}

/** GET /fhir/.well-known/smart-configuration (SMART App Launch 2.x, Backend Services). */
export function smartConfigurationRoute(fhir: FastifyInstance, auth: AuthServices, configuredBaseUrl: string | undefined): void {
  fhir.get('/.well-known/smart-configuration', async (request, reply) => {
    const symmetric = auth.tokens.clientSecretsAllowed;
    return reply.type('application/json').send({
      token_endpoint: tokenUrlOf(request, configuredBaseUrl),
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt', ...(symmetric ? ['client_secret_basic', 'client_secret_post'] : [])],
      token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
      scopes_supported: auth.scopesSupported,
      capabilities: ['client-confidential-asymmetric', ...(symmetric ? ['client-confidential-symmetric'] : []), 'permission-v1', 'permission-v2'],
    });
  });
}

/** POST /auth/token (form-encoded). */
export function tokenRoute(app: FastifyInstance, auth: AuthServices, configuredBaseUrl: string | undefined): void {
  app.post('/auth/token', async (request, reply) => {
    const form: Record<string, string | undefined> = {};
    if (request.body instanceof URLSearchParams) {
      for (const [k, v] of request.body) {
        // RFC 6749 §3.2: parameters must not be repeated.
        if (k in form) return reply.code(400).headers({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).send({ error: 'invalid_request' });
        form[k] = v;
      }
    } else {
      return reply.code(400).headers({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).send({ error: 'invalid_request' });
    }
    const result = await auth.tokens.handle({ form, tokenUrl: tokenUrlOf(request, configuredBaseUrl), ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}) });
    noteTokenRequest(request, { ...(result.clientId ? { clientId: result.clientId } : {}), ...(result.reason ? { reason: result.reason } : {}) });
    if (result.status === 200) request.log.info({ clientId: result.clientId }, 'access token issued');
    else request.log.warn({ clientId: result.clientId, reason: result.reason, error: result.body.error }, 'token request refused');
    return reply.code(result.status).headers(result.headers).type('application/json').send(result.body);
  });
}

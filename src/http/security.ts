// Response hardening and traffic policy for every route: nosniff, no-store on everything that may carry
// health data, CORS for configured browser origins only, and per-client rate limits.
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { FhirError, issue } from '../fhir/outcome.js';

export interface SecurityOptions {
  corsOrigins: string[];
  /** 0 = no limit. */
  rateLimitPerMinute: number;
}

/** Responses that hold no health data and may be cached: the conformance documents. */
const CACHEABLE_ROUTES = new Set(['/fhir/metadata', '/fhir/.well-known/smart-configuration', '/fhir/openapi.json']);

/** Synchronous part: must run before any route is declared so the hooks apply to all of them. */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    if (!CACHEABLE_ROUTES.has(request.routeOptions.url ?? '') || reply.statusCode >= 400) reply.header('Cache-Control', 'no-store');
    return payload;
  });
}

/** Plugins: register before the routes they govern. */
export function registerTrafficPolicy(app: FastifyInstance, options: SecurityOptions): void {
  if (options.corsOrigins.length > 0) {
    void app.register(cors, {
      origin: options.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Prefer', 'If-Match', 'If-None-Match', 'If-None-Exist', 'If-Modified-Since'],
      exposedHeaders: ['Location', 'ETag', 'Last-Modified', 'Content-Location', 'Retry-After', 'WWW-Authenticate'],
      // Bearer tokens, no cookies: browsers need no credentialed CORS.
      credentials: false,
      maxAge: 600,
    });
  }
  if (options.rateLimitPerMinute > 0) {
    void app.register(rateLimit, {
      global: true,
      max: options.rateLimitPerMinute,
      timeWindow: 60_000,
      // A route-level onRequest hook runs after the /fhir authentication hook: the client is known.
      hook: 'onRequest',
      keyGenerator: (request) => (request.auth ? `client:${request.auth.clientId}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) =>
        new FhirError(429, issue('throttled', `Too many requests: at most ${context.max} per minute; retry after ${context.after}`), {
          'Retry-After': String(Math.max(1, Math.ceil(context.ttl / 1000))),
        }),
    });
  }
}

// Builds the fastify application: parsers, content negotiation, error mapping and the FHIR routes
// under /fhir. No storage or FHIR logic lives here; both are injected.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { registerBodyParsers } from './body-parsers.js';
import { clientErrorHandler, frameworkErrors } from './client-errors.js';
import { decorateAuth, fhirAuthHooks, smartConfigurationRoute, tokenRoute, type AuthServices } from './auth.js';
import type { RouteContext } from './context.js';
import { registerErrorHandlers } from './errors.js';
import { assertJsonAcceptable } from './negotiation.js';
import { healthRoutes } from './routes/health.js';
import { historyRoutes } from './routes/history.js';
import { instanceRoutes } from './routes/instance.js';
import { methodNotAllowed } from './routes/method-not-allowed.js';
import { bundleRoutes } from './routes/bundle.js';
import { searchRoutes } from './routes/search.js';
import { systemRoutes } from './routes/system.js';
import { typeRoutes } from './routes/type.js';
import { validateRoutes } from './routes/validate.js';
import fastifyWebsocket from '@fastify/websocket';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { WEBSOCKET_MAX_MESSAGE_BYTES, websocketRoutes } from './routes/websocket.js';
import { registerSecurityHeaders, registerTrafficPolicy, type SecurityOptions } from './security.js';
import type { Repository } from '../fhir/repository.js';
import { stampArrival } from './arrival.js';
import { docsRoutes } from './docs.js';
import { registerAudit, type AuditServices } from './audit.js';
import { auditEventRoutes } from './routes/audit-event.js';
import type { AuditStore } from '../audit/types.js';
import { IMPORT_ERRORS_ROUTE, importRoutes, type ImportRouteServices } from './routes/import.js';
import { COORDINATION_FORM_ROUTE, coordinationFormRoutes } from './routes/coordination-form.js';

export interface AppOptions {
  context: RouteContext;
  repository: Repository;
  logger: Logger | false;
  maxBodyBytes: number;
  maxJsonDepth: number;
  /** Absent when authentication is off (loopback only). */
  auth?: AuthServices;
  security: SecurityOptions;
  /** Builds the OpenAPI document served at /fhir/openapi.json and /docs (on first request). */
  openApi?: () => Record<string, unknown>;
  /** Where AuditEvents are read from (their routes exist even when recording is off). */
  auditStore: AuditStore;
  /** Absent when auditing is off (CONCORD_AUDIT=off, only with authentication off). */
  audit?: AuditServices;
  /** The Bulk Data $import operation (absent: not offered). */
  importJobs?: ImportRouteServices;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger === false ? undefined : options.logger,
    bodyLimit: options.maxBodyBytes,
    // FHIR ids and search values may be long; the default 100-char param limit would 404 them.
    routerOptions: { maxParamLength: 512, ignoreTrailingSlash: true },
    return503OnClosing: true,
    // Refusals before routing (header/URI overflow, bad URL) answer with an OperationOutcome too.
    clientErrorHandler,
    frameworkErrors,
  }) as unknown as FastifyInstance;
  // First hook of all: the request's arrival instant (409 vs 422 for rule rejections).
  stampArrival(app);
  decorateAuth(app);
  app.decorateRequest('fhirJsonType', null);
  registerSecurityHeaders(app);
  if (options.audit) registerAudit(app, options.audit, options.context.configuredBaseUrl);
  registerBodyParsers(app, { maxJsonDepth: options.maxJsonDepth });
  registerErrorHandlers(app, { maxBodyBytes: options.maxBodyBytes });
  healthRoutes(app, options.repository);
  registerTrafficPolicy(app, options.security);
  if (options.openApi) docsRoutes(app, options.openApi);
  const auth = options.auth;
  if (auth) {
    void app.register((root, _opts, done) => {
      tokenRoute(root, auth, options.context.configuredBaseUrl);
      done();
    });
  }

  if (options.context.websocket) void app.register(fastifyWebsocket, { options: { maxPayload: WEBSOCKET_MAX_MESSAGE_BYTES } });

  void app.register(
    (fhir, _opts, done) => {
      if (auth) {
        fhirAuthHooks(fhir, auth);
        smartConfigurationRoute(fhir, auth, options.context.configuredBaseUrl);
      }
      fhir.addHook('onRequest', (request, _reply, next) => {
        // $import error files are NDJSON and the coordination form may be HTML: those routes negotiate for themselves.
        if (request.routeOptions.url === IMPORT_ERRORS_ROUTE || request.routeOptions.url === COORDINATION_FORM_ROUTE) return next();
        try {
          assertJsonAcceptable(request);
          next();
        } catch (err) {
          next(err as Error);
        }
      });
      const ctx = options.context;
      systemRoutes(fhir, ctx);
      historyRoutes(fhir, ctx);
      validateRoutes(fhir, ctx);
      auditEventRoutes(fhir, options.auditStore, { authEnabled: auth !== undefined, ...(ctx.configuredBaseUrl ? { configuredBaseUrl: ctx.configuredBaseUrl } : {}) });
      if (ctx.subscriptions) subscriptionRoutes(fhir, ctx, ctx.subscriptions, ctx.websocket);
      if (ctx.websocket) websocketRoutes(fhir, ctx.websocket);
      if (options.importJobs) importRoutes(fhir, options.importJobs);
      coordinationFormRoutes(fhir, ctx.coordinationForms, ctx.configuredBaseUrl);
      searchRoutes(fhir, ctx);
      bundleRoutes(fhir, ctx);
      typeRoutes(fhir, ctx);
      instanceRoutes(fhir, ctx);
      methodNotAllowed(fhir, {
        '/': ['GET', 'POST'],
        '/_search': ['POST'],
        '/metadata': ['GET'],
        '/_history': ['GET'],
        '/:type': ['GET', 'POST', 'PUT', 'DELETE'],
        '/:type/_search': ['POST'],
        '/:type/_history': ['GET'],
        '/:type/$validate': ['POST'],
        '/:type/:id': ['GET', 'PUT', 'PATCH', 'DELETE'],
        '/:type/:id/_history': ['GET'],
        '/:type/:id/$validate': ['POST'],
        '/:type/:id/_history/:vid': ['GET'],
      });
      done();
    },
    { prefix: '/fhir' },
  );
  return app;
}

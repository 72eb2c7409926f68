// POST [base]: transaction and batch Bundles.
import type { FastifyInstance } from 'fastify';
import { bundleAuthorizer } from '../auth.js';
import { writeAudit } from '../audit.js';
import type { RouteContext } from '../context.js';
import { refuseAuditEventWrites } from './audit-event.js';
import { preferences } from '../negotiation.js';
import { baseUrlOf, receivedAt, sendJson } from '../responses.js';
import { asViewer } from '../viewer.js';
import { actorOf } from '../actor.js';

export function bundleRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post('/', async (request, reply) => {
    const checkAccess = bundleAuthorizer(request);
    const body = await ctx.bundles.process(request.body, {
      ...asViewer(request),
      authorize: (entry) => {
        refuseAuditEventWrites(entry);
        checkAccess?.(entry);
      },
      ...writeAudit(request),
      maxEntries: ctx.maxBundleEntries,
      returnPreference: preferences(request).return,
      baseUrl: baseUrlOf(request, ctx.configuredBaseUrl),
      receivedAt: receivedAt(reply), ...actorOf(request),
      onEntryFault: (err, index) => request.log.error({ err, entry: index }, 'batch entry failed unexpectedly'),
    });
    return sendJson(reply, 200, body);
  });
}

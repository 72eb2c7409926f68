// POST [base]: transaction and batch Bundles.
import type { FastifyInstance } from 'fastify';
import { bundleAuthorizer } from '../auth.js';
import type { RouteContext } from '../context.js';
import { preferences } from '../negotiation.js';
import { baseUrlOf, receivedAt, sendJson } from '../responses.js';
import { actorOf } from '../actor.js';

export function bundleRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post('/', async (request, reply) => {
    const authorize = bundleAuthorizer(request);
    const body = await ctx.bundles.process(request.body, {
      ...(authorize ? { authorize } : {}),
      maxEntries: ctx.maxBundleEntries,
      returnPreference: preferences(request).return,
      baseUrl: baseUrlOf(request, ctx.configuredBaseUrl),
      receivedAt: receivedAt(reply), ...actorOf(request),
      onEntryFault: (err, index) => request.log.error({ err, entry: index }, 'batch entry failed unexpectedly'),
    });
    return sendJson(reply, 200, body);
  });
}

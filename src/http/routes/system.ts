import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';
import { baseUrlOf, sendJson } from '../responses.js';

export function systemRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/metadata', async (request, reply) => sendJson(reply, 200, ctx.capabilityStatement(baseUrlOf(request, ctx.configuredBaseUrl))));
}

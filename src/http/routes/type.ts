// Type-level interactions: create (conditional with If-None-Exist), conditional update and delete.
import type { FastifyInstance } from 'fastify';
import { informational } from '../../fhir/outcome.js';
import { writeAudit } from '../audit.js';
import type { RouteContext } from '../context.js';
import { header, ifMatch, preferences, searchParams } from '../negotiation.js';
import { baseUrlOf, receivedAt, sendJson, sendWrite } from '../responses.js';
import { asViewer } from '../viewer.js';
import { actorOf } from '../actor.js';

type TypeLevel = { Params: { type: string } };

export function typeRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<TypeLevel>('/:type', async (request, reply) => {
    const ifNoneExist = header(request, 'if-none-exist');
    const baseUrl = baseUrlOf(request, ctx.configuredBaseUrl);
    const result = await ctx.service.create(request.params.type, request.body, { baseUrl, receivedAt: receivedAt(reply), ...(ifNoneExist === undefined ? {} : { ifNoneExist }), ...asViewer(request), ...writeAudit(request), ...actorOf(request) });
    return sendWrite(request, reply, result.version, result.status, baseUrl);
  });

  app.put<TypeLevel>('/:type', async (request, reply) => {
    const baseUrl = baseUrlOf(request, ctx.configuredBaseUrl);
    const result = await ctx.service.conditionalUpdate(request.params.type, searchParams(request), request.body, { ifMatch: ifMatch(request), baseUrl, receivedAt: receivedAt(reply), ...asViewer(request), ...writeAudit(request), ...actorOf(request) });
    return sendWrite(request, reply, result.version, result.status, baseUrl);
  });

  app.delete<TypeLevel>('/:type', async (request, reply) => {
    const { type } = request.params;
    const result = await ctx.service.conditionalDelete(type, searchParams(request), { receivedAt: receivedAt(reply), ...asViewer(request), ...writeAudit(request), ...actorOf(request) });
    const headers: Record<string, string> = result.version ? { ETag: `W/"${result.version.versionId}"` } : {};
    if (preferences(request).return === 'OperationOutcome' || result.deletedCount === 0) {
      const text = result.version ? `${type}/${result.version.id} deleted` : `No ${type} matched the criteria; nothing was deleted`;
      return sendJson(reply, 200, informational(text), headers);
    }
    return reply.code(204).headers(headers).send();
  });
}

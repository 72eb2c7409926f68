// Instance-level interactions: read (with conditional read), vread, update, patch, delete.
import type { FastifyInstance } from 'fastify';
import { badRequest, informational } from '../../fhir/outcome.js';
import { writeAudit } from '../audit.js';
import type { RouteContext } from '../context.js';
import { header, ifMatch, ifNoneMatchVersion, preferences } from '../negotiation.js';
import { baseUrlOf, receivedAt, sendJson, sendVersion, sendWrite, versionHeaders } from '../responses.js';
import { asViewer } from '../viewer.js';
import { actorOf } from '../actor.js';

type Instance = { Params: { type: string; id: string } };

export function instanceRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<Instance>('/:type/:id', async (request, reply) => {
    const v = await ctx.service.read(request.params.type, request.params.id, asViewer(request));
    // Conditional read (R4 http.html#cread): If-None-Match on the version, If-Modified-Since on the time.
    const etag = ifNoneMatchVersion(request);
    const since = header(request, 'if-modified-since');
    const notModified =
      (etag !== undefined && etag === v.versionId) ||
      (etag === undefined && since !== undefined && Date.parse(since) >= Math.floor(Date.parse(v.lastUpdated) / 1000) * 1000);
    if (notModified) return reply.code(304).headers(versionHeaders(v)).send();
    return sendVersion(reply, v);
  });

  app.get<Instance & { Params: { vid: string } }>('/:type/:id/_history/:vid', async (request, reply) => {
    const { type, id, vid } = request.params;
    return sendVersion(reply, await ctx.service.vread(type, id, vid, asViewer(request)));
  });

  app.put<Instance>('/:type/:id', async (request, reply) => {
    const { type, id } = request.params;
    const baseUrl = baseUrlOf(request, ctx.configuredBaseUrl);
    const result = await ctx.service.update(type, id, request.body, { ifMatch: ifMatch(request), baseUrl, receivedAt: receivedAt(reply), ...asViewer(request), ...writeAudit(request), ...actorOf(request) });
    return sendWrite(request, reply, result.version, result.status, baseUrl);
  });

  app.patch<Instance>('/:type/:id', async (request, reply) => {
    const contentType = header(request, 'content-type') ?? '';
    if (!/^application\/json-patch\+json/i.test(contentType)) {
      throw badRequest('PATCH supports JSON Patch only: send Content-Type application/json-patch+json');
    }
    const { type, id } = request.params;
    const baseUrl = baseUrlOf(request, ctx.configuredBaseUrl);
    const result = await ctx.service.patch(type, id, request.body, { ifMatch: ifMatch(request), baseUrl, receivedAt: receivedAt(reply), ...asViewer(request), ...writeAudit(request), ...actorOf(request) });
    return sendWrite(request, reply, result.version, result.status, baseUrl);
  });

  app.delete<Instance>('/:type/:id', async (request, reply) => {
    const { type, id } = request.params;
    const result = await ctx.service.delete(type, id, { ifMatch: ifMatch(request), receivedAt: receivedAt(reply), ...asViewer(request), ...writeAudit(request), ...actorOf(request) });
    const headers: Record<string, string> = result.version ? { ETag: `W/"${result.version.versionId}"` } : {};
    if (preferences(request).return === 'OperationOutcome') {
      const text = result.deletedCount ? `${type}/${id} deleted` : `${type}/${id} was already deleted`;
      return sendJson(reply, 200, informational(text), headers);
    }
    return reply.code(204).headers(headers).send();
  });
}

// Search: GET [type], POST [type]/_search (form-encoded body merged with the query string), and
// system-level GET [base]?_type=... / POST [base]/_search.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { abandonedSignal } from '../abandoned.js';
import type { RouteContext } from '../context.js';
import { preferences, searchParams } from '../negotiation.js';
import { baseUrlOf, sendJson } from '../responses.js';
import { asViewer } from '../viewer.js';

function mergedParams(request: FastifyRequest): URLSearchParams {
  const params = searchParams(request);
  if (request.body instanceof URLSearchParams) for (const [k, v] of request.body) params.append(k, v);
  return params;
}

export function searchRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const run = async (request: FastifyRequest, reply: FastifyReply, type: string | undefined) =>
    ctx.search.search(type, mergedParams(request), {
      strict: preferences(request).handling === 'strict',
      baseUrl: baseUrlOf(request, ctx.configuredBaseUrl),
      signal: abandonedSignal(reply),
      ...asViewer(request),
    });
  app.get<{ Params: { type: string } }>('/:type', async (req, reply) => sendJson(reply, 200, await run(req, reply, req.params.type)));
  app.post<{ Params: { type: string } }>('/:type/_search', async (req, reply) => sendJson(reply, 200, await run(req, reply, req.params.type)));
  app.get('/', async (req, reply) => sendJson(reply, 200, await run(req, reply, undefined)));
  app.post('/_search', async (req, reply) => sendJson(reply, 200, await run(req, reply, undefined)));
}

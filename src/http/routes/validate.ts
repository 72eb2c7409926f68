// $validate (R4 operation-resource-validate): the body is the resource or a Parameters with resource
// and mode. The answer is 200 with an OperationOutcome whether or not the resource is valid; a 4xx
// means validation itself could not run.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, hasErrors, issue, outcome } from '../../fhir/outcome.js';
import type { RouteContext } from '../context.js';
import { searchParams } from '../negotiation.js';
import { baseUrlOf, sendJson } from '../responses.js';
import { viewerOf } from '../viewer.js';

type Mode = 'create' | 'update' | 'delete';

interface ParametersBody {
  resourceType: 'Parameters';
  parameter?: { name?: string; resource?: unknown; valueCode?: string }[];
}

function unpack(request: FastifyRequest, id: string | undefined): { resource: unknown; mode: Mode } {
  const body = request.body as Record<string, unknown> | undefined;
  let resource: unknown = body;
  let modeText = searchParams(request).get('mode') ?? undefined;
  if (body?.resourceType === 'Parameters') {
    const params = (body as unknown as ParametersBody).parameter ?? [];
    resource = params.find((p) => p.name === 'resource')?.resource;
    modeText = params.find((p) => p.name === 'mode')?.valueCode ?? modeText;
  }
  const mode = (modeText ?? (id ? 'update' : 'create')) as Mode;
  if (!['create', 'update', 'delete'].includes(mode)) throw badRequest(`Unsupported $validate mode '${String(modeText)}'`);
  if (mode !== 'create' && !id) throw badRequest(`$validate mode '${mode}' is only allowed on an instance ([type]/[id]/$validate)`);
  if (mode !== 'delete' && resource === undefined) throw badRequest('$validate needs a resource in the body');
  return { resource, mode };
}

export function validateRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const handle = async (request: FastifyRequest<{ Params: { type: string; id?: string } }>) => {
    const { type, id } = request.params;
    const { resource, mode } = unpack(request, id);
    const issues = await ctx.service.validateOnly(type, resource, mode, id, baseUrlOf(request, ctx.configuredBaseUrl), viewerOf(request));
    return hasErrors(issues) ? outcome(issues) : outcome([...issues, issue('informational', 'Validation successful', { severity: 'information' })]);
  };
  app.post<{ Params: { type: string } }>('/:type/$validate', async (req, reply) => sendJson(reply, 200, await handle(req)));
  app.post<{ Params: { type: string; id: string } }>('/:type/:id/$validate', async (req, reply) => sendJson(reply, 200, await handle(req)));
}

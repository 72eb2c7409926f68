// Subscription operations: $status, $events and $get-ws-binding-token (GET, or POST with a Parameters body).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SubscriptionOperations } from '../../subscriptions/operations.js';
import type { WebsocketHub } from '../../subscriptions/websocket-hub.js';
import { WEBSOCKET_PATH } from '../access.js';
import type { RouteContext } from '../context.js';
import { searchParams } from '../negotiation.js';
import { baseUrlOf, sendJson } from '../responses.js';
import { asViewer } from '../viewer.js';

type Instance = { Params: { id: string } };

/** Query parameters, plus the Parameters body of a POST. */
function operationParams(request: FastifyRequest): URLSearchParams {
  const params = searchParams(request);
  const body = request.body as { resourceType?: string; parameter?: { name?: string; valueString?: string; valueCode?: string; valueUnsignedInt?: number }[] } | undefined;
  if (body?.resourceType === 'Parameters') {
    for (const p of body.parameter ?? []) {
      const v = p.valueString ?? p.valueCode ?? (p.valueUnsignedInt !== undefined ? String(p.valueUnsignedInt) : undefined);
      if (p.name && v !== undefined) params.set(p.name, v);
    }
  }
  return params;
}

/** ws:// or wss:// for the same host and prefix as the FHIR base (`.../fhir` -> `.../fhir/ws`). */
export function websocketUrl(base: string): string {
  const url = new URL(base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/fhir\/?$/, '').replace(/\/$/, '')}${WEBSOCKET_PATH}`;
  url.search = '';
  return url.toString();
}

export function subscriptionRoutes(app: FastifyInstance, ctx: RouteContext, ops: SubscriptionOperations, hub?: WebsocketHub): void {
  // A Subscription another organization owns answers 404, as its read does (docs/adr/0008).
  const visible = (request: FastifyRequest<Instance>) => ctx.service.read('Subscription', request.params.id, asViewer(request));
  const status = async (request: FastifyRequest<Instance>) => {
    await visible(request);
    return ops.status(request.params.id, baseUrlOf(request, ctx.configuredBaseUrl));
  };
  app.get<Instance>('/Subscription/:id/$status', async (request, reply) => sendJson(reply, 200, await status(request)));
  app.post<Instance>('/Subscription/:id/$status', async (request, reply) => sendJson(reply, 200, await status(request)));

  const events = async (request: FastifyRequest<Instance>) => {
    await visible(request);
    const p = operationParams(request);
    const since = p.get('eventsSinceNumber');
    const until = p.get('eventsUntilNumber');
    const content = p.get('content');
    return ops.events(request.params.id, baseUrlOf(request, ctx.configuredBaseUrl), {
      ...(since !== null ? { since } : {}),
      ...(until !== null ? { until } : {}),
      ...(content !== null ? { content } : {}),
    });
  };
  app.get<Instance>('/Subscription/:id/$events', async (request, reply) => sendJson(reply, 200, await events(request)));
  app.post<Instance>('/Subscription/:id/$events', async (request, reply) => sendJson(reply, 200, await events(request)));

  if (hub) {
    const token = async (request: FastifyRequest<Instance>) => {
      await visible(request);
      return hub.issueToken(request.params.id, websocketUrl(baseUrlOf(request, ctx.configuredBaseUrl)));
    };
    app.get<Instance>('/Subscription/:id/$get-ws-binding-token', async (request, reply) => sendJson(reply, 200, await token(request)));
    app.post<Instance>('/Subscription/:id/$get-ws-binding-token', async (request, reply) => sendJson(reply, 200, await token(request)));
  }
}

// How stored resources and write results leave the server: ETag / Last-Modified / Location headers and
// the Prefer: return=... choice of body.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { informational } from '../fhir/outcome.js';
import { arrivedAt } from './arrival.js';
import type { StoredVersion } from '../fhir/repository.js';
import { jsonContentType, preferences } from './negotiation.js';

export function baseUrlOf(request: FastifyRequest, configured: string | undefined): string {
  return configured ? `${configured}` : `${request.protocol}://${request.host}/fhir`;
}

/** When fastify received the request (see arrival.ts). */
export const receivedAt = (reply: FastifyReply): Date => arrivedAt(reply);

export function versionHeaders(v: StoredVersion): Record<string, string> {
  return { ETag: `W/"${v.versionId}"`, 'Last-Modified': new Date(v.lastUpdated).toUTCString() };
}

export function sendJson(reply: FastifyReply, status: number, body: string | object, headers: Record<string, string> = {}): FastifyReply {
  return reply
    .code(status)
    .headers(headers)
    .type(jsonContentType(reply.request))
    .send(typeof body === 'string' ? body : JSON.stringify(body));
}

export function sendVersion(reply: FastifyReply, v: StoredVersion, status = 200): FastifyReply {
  return sendJson(reply, status, v.content ?? '{}', versionHeaders(v));
}

/** A create/update/patch result: Location on create, body per Prefer (default representation). */
export function sendWrite(request: FastifyRequest, reply: FastifyReply, v: StoredVersion, status: number, baseUrl: string): FastifyReply {
  const headers = versionHeaders(v);
  headers.Location = `${baseUrl}/${v.resourceType}/${v.id}/_history/${v.versionId}`;
  const pref = preferences(request).return;
  if (pref === 'minimal') return reply.code(status).headers(headers).send();
  if (pref === 'OperationOutcome') {
    const verb = status === 201 ? 'created' : 'updated';
    return sendJson(reply, status, informational(`${v.resourceType}/${v.id} ${verb} (version ${v.versionId})`), headers);
  }
  return sendJson(reply, status, v.content ?? '{}', headers);
}

// The viewer the services filter by: the organization the authenticated client acts for. Administrative
// clients (no organization) and requests while authentication is off see everything.
import type { FastifyRequest } from 'fastify';
import type { Viewer } from '../access/viewer.js';

export function viewerOf(request: FastifyRequest): Viewer | undefined {
  const organization = request.auth?.organization;
  return organization ? { organization } : undefined;
}

/** `{ viewer }` to spread into service options, or nothing. */
export function asViewer(request: FastifyRequest): { viewer?: Viewer } {
  const viewer = viewerOf(request);
  return viewer ? { viewer } : {};
}

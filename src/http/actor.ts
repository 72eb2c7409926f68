// The writing client as the FHIR layer records it (Subscriptions keep their creator's organization).
import type { FastifyRequest } from 'fastify';
import type { WriteActor } from '../fhir/resource-service.js';

/** `{ actor }` to spread into a write's options; empty when authentication is off. */
export function actorOf(request: FastifyRequest): { actor?: WriteActor } {
  const auth = request.auth;
  if (!auth) return {};
  return { actor: { clientId: auth.clientId, ...(auth.organization ? { organization: auth.organization } : {}) } };
}

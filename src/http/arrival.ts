// When fastify received each request: the instant a rule rejection is measured against to tell a lost
// race (409) from a rule break (422). Stamped by the first onRequest hook, because fastify's own start
// time (reply.elapsedTime) is only kept when a logger or onResponse hook is registered, and otherwise
// reads 0 (the handler's time, after the body was parsed and queued behind other requests).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const arrivals = new WeakMap<FastifyRequest, number>();

export function stampArrival(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    arrivals.set(request, Date.now());
    done();
  });
}

/** When the request arrived (now, for a request the hook did not see). */
export function arrivedAt(reply: FastifyReply): Date {
  return new Date(arrivals.get(reply.request) ?? Date.now());
}

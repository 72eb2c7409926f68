// When fastify received each request: the instant a rule rejection is measured against to tell a lost
// race (409) from a rule break (422). Stamped by the first onRequest hook, because fastify's own start
// time (reply.elapsedTime) is only kept when a logger or onResponse hook is registered, and otherwise
// reads 0 (the handler's time, after the body was parsed and queued behind other requests).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { preciseNow } from '../fhir/commit-log.js';

const arrivals = new WeakMap<FastifyRequest, number>();

export function stampArrival(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    arrivals.set(request, preciseNow());
    done();
  });
}

/**
 * When the request arrived (now, for a request the hook did not see), rounded up to the millisecond a
 * Date can hold: a commit seen earlier in that same millisecond then still counts as before arrival.
 */
export function arrivedAt(reply: FastifyReply): Date {
  return new Date(Math.ceil(arrivals.get(reply.request) ?? preciseNow()));
}

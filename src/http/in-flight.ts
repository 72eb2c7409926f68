// Requests this instance is answering right now: the sign the Subscription dispatcher reads for a busy
// instance (docs/adr/0027, addendum "a longer window while busy"). Counted from the first hook to the
// response's close, which Node emits once whether the response finished or the client went away.
import type { FastifyInstance } from 'fastify';

export class RequestsInFlight {
  count = 0;
}

export function countRequestsInFlight(app: FastifyInstance, counter: RequestsInFlight): void {
  app.addHook('onRequest', (request, reply, done) => {
    // A websocket upgrade lives as long as its socket: it is a connection held, not work queued.
    if (request.headers.upgrade === undefined) {
      counter.count++;
      reply.raw.once('close', () => counter.count--);
    }
    done();
  });
}

// Requests this instance is answering: the sign the Subscription dispatcher reads for a busy instance
// (docs/adr/0027, addendum "a longer window while busy"). Counted from the first hook to the response's
// close, which Node emits once whether the response finished or the client went away. The dispatcher reads
// the count averaged over about a second: a burst or a pause of a few hundred milliseconds at a moderate rate
// must not read as saturation (it would hold a paced stream's events for the whole busy window).
import type { FastifyInstance } from 'fastify';

export class RequestsInFlight {
  count = 0;
  private mean = 0;
  private at = performance.now();

  /** tauMs: the averaging time (the weight of the count a moment ago decays by e every tauMs). */
  constructor(private readonly tauMs = 1000) {}

  /** The count averaged over about the last tauMs, each moment weighted by exp(-age / tauMs). */
  average(): number {
    this.advance();
    return this.mean;
  }

  enter(): void {
    this.advance();
    this.count++;
  }

  leave(): void {
    this.advance();
    this.count--;
  }

  /** The count held since the last change pulls the mean towards it. */
  private advance(): void {
    const now = performance.now();
    const dt = now - this.at;
    if (dt <= 0) return;
    this.mean = this.count + (this.mean - this.count) * Math.exp(-dt / this.tauMs);
    this.at = now;
  }
}

export function countRequestsInFlight(app: FastifyInstance, counter: RequestsInFlight): void {
  app.addHook('onRequest', (request, reply, done) => {
    // A websocket upgrade lives as long as its socket: it is a connection held, not work queued.
    if (request.headers.upgrade === undefined) {
      counter.enter();
      reply.raw.once('close', () => counter.leave());
    }
    done();
  });
}

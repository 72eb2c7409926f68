// Every error leaves as an OperationOutcome. Client errors carry their diagnostics; anything
// unexpected is logged (without request bodies) and answered with a generic 500.
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { FhirError, issue, outcome } from '../fhir/outcome.js';
import { fromStoreUnavailable, StoreUnavailableError } from '../fhir/store-unavailable.js';
import { jsonContentType } from './negotiation.js';

function send(reply: FastifyReply, status: number, body: unknown, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(status).headers(headers).type(jsonContentType(reply.request)).send(JSON.stringify(body));
}

/** Maps fastify's own errors (body limit, media type, route schema) to FHIR statuses. */
function fromFastifyError(err: FastifyError): FhirError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new FhirError(413, issue('too-costly', `The request body is larger than the ${err.message.match(/\d+/)?.[0] ?? 'configured'} byte limit`));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new FhirError(415, issue('not-supported', 'Unsupported Content-Type; send application/fhir+json'));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new FhirError(400, issue('invalid', err.message));
    default:
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        return new FhirError(err.statusCode, issue('invalid', err.message));
      }
      return undefined;
  }
}

/** How long an unread body may take to be read and discarded before the answer goes out regardless. */
const DRAIN_MS = 10_000;

/**
 * Reads and discards the rest of a request body that was refused before being read (413 too large,
 * 415 unsupported type), up to maxBytes. fastify closes such connections after answering, and closing
 * while the client is still writing makes HTTP clients such as undici (Node's fetch) fail with
 * EPIPE/ECONNRESET instead of reading the answer; once the body is consumed they see it. Bodies
 * beyond the bound are not read: the answer goes out and the connection closes.
 */
function drainBody(raw: IncomingMessage, maxBytes: number): Promise<void> {
  if (raw.complete || raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = (): void => {
      clearTimeout(timer);
      raw.removeListener('data', onData);
      raw.removeListener('end', done);
      raw.removeListener('error', done);
      raw.removeListener('close', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, DRAIN_MS);
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('error', done);
    raw.once('close', done);
    raw.resume();
  });
}

/** For logs: the driver's error code or first line, never SQL text or values. */
function causeOf(err: StoreUnavailableError): string | undefined {
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return typeof cause?.message === 'string' ? cause.message.split('\n')[0] : undefined;
}

export function registerErrorHandlers(app: FastifyInstance, options: { maxBodyBytes: number }): void {
  // An unread body is read up to this bound (and no further) so that the client sees the answer.
  const drainLimit = 4 * options.maxBodyBytes;
  app.setErrorHandler(async (err: FastifyError | FhirError | StoreUnavailableError, request, reply) => {
    if (err instanceof StoreUnavailableError) {
      const level = err.reason === 'cancelled' ? 'info' : 'warn';
      request.log[level]({ reason: err.reason, cause: causeOf(err) }, 'database unavailable for this request');
      const answer = fromStoreUnavailable(err);
      return send(reply, answer.status, answer.outcome, answer.headers);
    }
    const known = err instanceof FhirError ? err : fromFastifyError(err);
    if (!(Number(request.headers['content-length']) > drainLimit)) await drainBody(request.raw, drainLimit);
    if (known) {
      if (known.status >= 500) request.log.error({ err }, 'request failed');
      return send(reply, known.status, known.outcome, known.headers);
    }
    request.log.error({ err }, 'unexpected server error');
    return send(reply, 500, outcome([issue('exception', 'Internal server error')]));
  });
  app.setNotFoundHandler((request, reply) => {
    return send(reply, 404, outcome([issue('not-found', `No route for ${request.method} ${request.url.split('?')[0]}`)]));
  });
}

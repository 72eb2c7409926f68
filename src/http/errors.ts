// Every error leaves as an OperationOutcome. Client errors carry their diagnostics; anything
// unexpected is logged (without request bodies) and answered with a generic 500.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { FhirError, issue, outcome } from '../fhir/outcome.js';
import { FHIR_JSON } from './negotiation.js';

function send(reply: FastifyReply, status: number, body: unknown, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(status).headers(headers).type(FHIR_JSON).send(JSON.stringify(body));
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

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | FhirError, request, reply) => {
    const known = err instanceof FhirError ? err : fromFastifyError(err);
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

// Requests refused before fastify routes them still leave as an OperationOutcome with the FHIR
// content type:
// - Node's HTTP parser refuses a request line or headers over its limit (16 KiB by default) and emits
//   'clientError' with no request or response object; the answer has to be written to the socket.
//   A request line that never ended within the data received is a URI too long (414); otherwise the
//   header fields are (431).
// - fastify's router refuses a path segment over maxParamLength (414) or a malformed URL (400).
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { issue, outcome, type IssueCode } from '../fhir/outcome.js';
import { FHIR_JSON } from './negotiation.js';

/** How long a refused connection keeps reading (and discarding) what the client still sends. */
const LINGER_MS = 2000;

const answered = new WeakSet<Socket>();

interface ClientError extends Error {
  code?: string;
  /** The packet being parsed when the error occurred (a Buffer at runtime). */
  rawPacket?: unknown;
}

function classify(err: ClientError): { status: number; code: IssueCode; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      // The packet that overflowed: still inside the request line when it begins with it and has no line end.
      const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 64 * 1024).toString('latin1') : '';
      if (/^[A-Z]+ /.test(raw) && !raw.includes('\r\n')) {
        return { status: 414, code: 'too-costly', message: 'The request URI is too long; use POST [type]/_search with a form body for long searches' };
      }
      return { status: 431, code: 'too-costly', message: 'The request header fields are too large' };
    }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'timeout', message: 'The request was not received in time' };
    default:
      return { status: 400, code: 'invalid', message: 'The request is not valid HTTP' };
  }
}

/**
 * fastify's clientErrorHandler. Answers with an OperationOutcome and closes our side, but keeps
 * reading for a moment: closing while the client is still writing its oversized request makes
 * clients see a reset (EPIPE) instead of the answer.
 */
export function clientErrorHandler(err: ClientError, socket: Socket): void {
  // The parser reports the same error again for every later chunk; answer once.
  if (answered.has(socket)) return;
  answered.add(socket);
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, message } = classify(err);
  if (socket.writable) {
    const body = JSON.stringify(outcome([issue(code, message)]));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${FHIR_JSON}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.end();
  }
  socket.on('error', () => undefined);
  socket.on('data', () => undefined); // discard the rest of the request
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
}

/** fastify's frameworkErrors: router refusals (414 path segment too long, 400 bad URL) as OperationOutcome. */
export function frameworkErrors(err: Error & { code?: string; statusCode?: number }, request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode ?? 400;
  let body;
  if (status >= 500) {
    request.log.error({ err }, 'framework error');
    body = outcome([issue('exception', 'Internal server error')]);
  } else {
    const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path segment of the request URI is too long' : 'The request URL is not valid';
    body = outcome([issue(status === 414 ? 'too-costly' : 'invalid', message)]);
  }
  void reply.code(status).type(FHIR_JSON).send(JSON.stringify(body));
}

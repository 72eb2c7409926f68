// Content negotiation and the request headers R4 defines (Prefer, If-Match, If-None-Exist...).
import type { FastifyRequest } from 'fastify';
import { FhirError, badRequest, issue } from '../fhir/outcome.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const XML = /(^|[+/])xml\b/i;
const JSON_OK = /application\/(fhir\+)?json|\*\/\*|application\/\*|^json$/i;

/** 406 for clients that only accept XML (or anything else we cannot produce); _format wins over Accept. */
export function assertJsonAcceptable(request: FastifyRequest): void {
  const query = request.query as Record<string, unknown> | undefined;
  const format = typeof query?._format === 'string' ? query._format : undefined;
  if (format !== undefined) {
    if (XML.test(format) || format === 'xml') throw new FhirError(406, issue('not-supported', 'XML is not supported by this server; use _format=json'));
    if (!JSON_OK.test(format) && format !== 'json') throw new FhirError(406, issue('not-supported', `Unsupported _format '${format}'`));
    return;
  }
  const accept = request.headers.accept;
  if (!accept || accept.trim() === '') return;
  if (JSON_OK.test(accept)) return;
  const reason = XML.test(accept) ? 'XML is not supported by this server' : `Cannot produce '${accept}'`;
  throw new FhirError(406, issue('not-supported', `${reason}; accept application/fhir+json`));
}

export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

export interface Preferences {
  return: ReturnPreference;
  handling: 'strict' | 'lenient';
}

export function preferences(request: FastifyRequest): Preferences {
  const header = request.headers.prefer;
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const ret = /return=(minimal|representation|OperationOutcome)/i.exec(text)?.[1]?.toLowerCase();
  return {
    return: ret === 'minimal' ? 'minimal' : ret === 'operationoutcome' ? 'OperationOutcome' : 'representation',
    handling: /handling=strict/i.test(text) ? 'strict' : 'lenient',
  };
}

/** If-Match: W/"3" (or "3"); anything else is a malformed precondition (400). */
export function ifMatch(request: FastifyRequest): number | undefined {
  const raw = request.headers['if-match'];
  if (raw === undefined) return undefined;
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(String(raw));
  if (!m) throw badRequest(`If-Match must be a version ETag like W/"1", got '${String(raw)}'`);
  return Number(m[1]);
}

export function ifNoneMatchVersion(request: FastifyRequest): number | undefined {
  const raw = request.headers['if-none-match'];
  if (raw === undefined) return undefined;
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(String(raw));
  return m ? Number(m[1]) : undefined;
}

export function header(request: FastifyRequest, name: string): string | undefined {
  const raw = request.headers[name];
  return Array.isArray(raw) ? raw[0] : raw;
}

/** The query string as URLSearchParams (fastify's parsed query loses repeated-key order). */
export function searchParams(request: FastifyRequest): URLSearchParams {
  const i = request.url.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : request.url.slice(i + 1));
}

// Content negotiation and the request headers R4 defines (Prefer, If-Match, If-None-Exist...).
import type { FastifyRequest } from 'fastify';
import { FhirError, badRequest, issue } from '../fhir/outcome.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const PLAIN_JSON = 'application/json; charset=utf-8';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON media type the request negotiated on a FHIR JSON route (null: not negotiated, or failed). */
    fhirJsonType: string | null;
  }
}

/** What every FHIR route produces (the first is the default); routes that produce more pass their own. */
export const FHIR_JSON_TYPES = ['application/fhir+json', 'application/json'] as const;

/** `_format` (and a bare Accept token) may name a format instead of a media type, as R4 allows. */
const FORMAT_ALIASES: Readonly<Record<string, string>> = {
  json: 'application/fhir+json',
  xml: 'application/fhir+xml',
  ttl: 'text/turtle',
  html: 'text/html',
  ndjson: 'application/fhir+ndjson',
};

const XML = /(^|[+/])xml$/i;

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  /** Position in the header: earlier wins a tie in q. */
  order: number;
}

const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * Accept's media ranges (RFC 9110 12.5.1). Parameters other than q (charset, fhirVersion) do not
 * narrow the match. A range that is not type/subtype (nor a format alias), or whose weight is not a
 * qvalue, is left out: it cannot make anything acceptable.
 */
function mediaRanges(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  accept.split(',').forEach((part, order) => {
    const [raw = '', ...params] = part.split(';').map((t) => t.trim());
    const name = (FORMAT_ALIASES[raw.toLowerCase()] ?? raw).toLowerCase();
    const m = /^([a-z0-9!#$%&'*+.^_`|~-]+)\/([a-z0-9!#$%&'*+.^_`|~-]+)$/.exec(name);
    if (!m || (m[1] === '*' && m[2] !== '*')) return;
    const weight = params.find((p) => /^q\s*=/i.test(p))?.replace(/^q\s*=\s*/i, '');
    if (weight !== undefined && !QVALUE.test(weight)) return;
    ranges.push({ type: m[1]!, subtype: m[2]!, q: weight === undefined ? 1 : Number(weight), order });
  });
  return ranges;
}

/** How specifically a range names a type: 2 exactly, 1 by its type, 0 as any; -1 not at all. */
function specificity(range: MediaRange, type: string, subtype: string): number {
  if (range.type === '*') return 0;
  if (range.type !== type) return -1;
  if (range.subtype === '*') return 1;
  return range.subtype === subtype ? 2 : -1;
}

/**
 * The offer the ranges prefer: each offer takes the weight of its most specific matching range (so
 * `*\/*, application/json;q=0` excludes JSON alone); the highest weight wins, then the range that came
 * first, then the order of `offers`. Undefined when every offer has weight 0 or matches nothing.
 */
function preferred(ranges: readonly MediaRange[], offers: readonly string[]): string | undefined {
  let best: { offer: string; q: number; order: number } | undefined;
  for (const offer of offers) {
    const [type = '', subtype = ''] = offer.toLowerCase().split('/');
    let match: MediaRange | undefined;
    let matchSpecificity = -1;
    for (const range of ranges) {
      const s = specificity(range, type, subtype);
      if (s > matchSpecificity) [match, matchSpecificity] = [range, s];
    }
    if (!match || match.q <= 0) continue;
    if (!best || match.q > best.q || (match.q === best.q && match.order < best.order)) best = { offer, q: match.q, order: match.order };
  }
  return best?.offer;
}

/**
 * Which of `offers` (media types; the first is the default) to answer with: `_format` wins over Accept
 * (R4 HTTP), no Accept means the default. 406 with an OperationOutcome when what was asked for excludes
 * every offer, e.g. `Accept: *\/*;q=0` or XML only.
 */
export function negotiate(request: FastifyRequest, offers: readonly string[]): string {
  // A '+' sent unescaped in the query string arrives as a space; a media type never holds one.
  const format = searchParams(request).get('_format')?.trim().replace(/ /g, '+') ?? null;
  if (format !== null) {
    const chosen = preferred(mediaRanges(format.split(',')[0]!.split(';')[0]!), offers);
    if (chosen) return chosen;
    if (XML.test(FORMAT_ALIASES[format.toLowerCase()] ?? format.split(';')[0]!.trim())) throw new FhirError(406, issue('not-supported', 'XML is not supported by this server; use _format=json'));
    throw new FhirError(406, issue('not-supported', `Unsupported _format '${format}' (this resource is served as ${offers.join(' or ')})`));
  }
  const accept = header(request, 'accept');
  if (accept === undefined || accept.trim() === '') return offers[0]!;
  const ranges = mediaRanges(accept);
  const chosen = preferred(ranges, offers);
  if (chosen) return chosen;
  const wantsXml = ranges.some((r) => r.q > 0 && XML.test(`${r.type}/${r.subtype}`));
  const reason = wantsXml ? 'XML is not supported by this server' : `Cannot produce anything the Accept header '${accept}' accepts`;
  throw new FhirError(406, issue('not-supported', `${reason}; accept ${offers.join(' or ')}`));
}

/**
 * 406 unless the request accepts FHIR JSON (by _format, which wins, or Accept); remembers which JSON
 * type it preferred, so a client that asked for application/json alone gets that label back (R4 HTTP:
 * the server should answer in the format requested).
 */
export function assertJsonAcceptable(request: FastifyRequest): void {
  request.fhirJsonType = negotiate(request, FHIR_JSON_TYPES);
}

/** The Content-Type of a JSON answer to this request: application/json when that is what it negotiated. */
export function jsonContentType(request: FastifyRequest): string {
  return request.fhirJsonType === 'application/json' ? PLAIN_JSON : FHIR_JSON;
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

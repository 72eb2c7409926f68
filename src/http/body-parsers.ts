// Request bodies: FHIR JSON (and plain JSON, JSON Patch, form-encoded searches). XML is not supported
// and says so (415). Bodies over MAX_BODY_BYTES are refused by fastify's bodyLimit (413) while
// streaming, before anything is buffered past the limit.
import type { FastifyInstance } from 'fastify';
import { FhirError, issue } from '../fhir/outcome.js';
import { parseJsonBody } from './json-body.js';
import { oncePerLoopTurn } from './loop-turns.js';

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json'];
const XML_TYPES = /^(application\/fhir\+xml|application\/xml|text\/xml|application\/xml-patch\+xml)/i;

/** Bodies from this size on are parsed one per event-loop turn (loop-turns.ts); smaller ones at once. */
const LARGE_BODY_BYTES = 256 * 1024;

export function registerBodyParsers(app: FastifyInstance, options: { maxJsonDepth: number }): void {
  app.removeAllContentTypeParsers();
  // parseAs 'buffer': the bytes are decoded strictly in json-body.ts, not by fastify's lenient conversion.
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'buffer' }, (_req, body, done) => {
    const parse = () => {
      try {
        done(null, parseJsonBody(body as Buffer, options.maxJsonDepth));
      } catch (err) {
        done(err as Error, undefined);
      }
    };
    if ((body as Buffer).length >= LARGE_BODY_BYTES) oncePerLoopTurn(parse);
    else parse();
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, new URLSearchParams(body as string));
  });
  app.addContentTypeParser(XML_TYPES, (_req, _payload, done) => {
    done(new FhirError(415, issue('not-supported', 'XML is not supported by this server; send application/fhir+json')), undefined);
  });
  app.addContentTypeParser('*', (req, _payload, done) => {
    const type = req.headers['content-type'] ?? '';
    done(new FhirError(415, issue('not-supported', `Unsupported Content-Type '${type}'; send application/fhir+json`)), undefined);
  });
}

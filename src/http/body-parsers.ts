// Request bodies: FHIR JSON (and plain JSON, JSON Patch, form-encoded searches). XML is not supported
// and says so (415). Bodies over MAX_BODY_BYTES are refused by fastify's bodyLimit (413) while
// streaming, before anything is buffered past the limit.
import type { FastifyInstance } from 'fastify';
import { FhirError, issue } from '../fhir/outcome.js';
import { exceedsJsonDepth } from './json-depth.js';

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json'];
const XML_TYPES = /^(application\/fhir\+xml|application\/xml|text\/xml|application\/xml-patch\+xml)/i;

export function registerBodyParsers(app: FastifyInstance, options: { maxJsonDepth: number }): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(new FhirError(400, issue('invalid', 'The request body is empty')), undefined);
      return;
    }
    if (exceedsJsonDepth(text, options.maxJsonDepth)) {
      done(new FhirError(400, issue('too-costly', `JSON nesting deeper than ${options.maxJsonDepth} levels is refused`)), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (err) {
      const detail = err instanceof Error ? err.message : 'invalid JSON';
      done(new FhirError(400, issue('structure', `The request body is not valid JSON: ${detail}`)), undefined);
    }
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

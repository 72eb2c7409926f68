// fastify answers 404 for a known path with an unsupported method; FHIR clients expect 405 with the
// methods that are allowed, so every FHIR path pattern gets a catch-all for the other methods.
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { FhirError, issue } from '../../fhir/outcome.js';

const ALL: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export function methodNotAllowed(app: FastifyInstance, paths: Record<string, HTTPMethods[]>): void {
  for (const [url, allowed] of Object.entries(paths)) {
    const withHead = allowed.includes('GET') ? [...allowed, 'HEAD' as const] : allowed;
    const others = ALL.filter((m) => !withHead.includes(m));
    if (others.length === 0) continue;
    app.route({
      method: others,
      url,
      handler: (request) => {
        throw new FhirError(405, issue('not-supported', `${request.method} is not allowed on ${url.replace(/:(\w+)/g, '[$1]')}`), {
          Allow: allowed.join(', '),
        });
      },
    });
  }
}

// The OpenAPI description (src/fhir/openapi.ts) at GET /fhir/openapi.json and an interactive page at
// /docs (fastify's swagger plugins, static mode: the document is generated from the CapabilityStatement,
// not collected from route schemas). Both are public, like /fhir/metadata: they describe the API, not
// anyone's data. The document (~1 MB) is built on first request, not at startup.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export const OPENAPI_URL = '/fhir/openapi.json';
export const DOCS_PREFIX = '/docs';

export function docsRoutes(app: FastifyInstance, build: () => Record<string, unknown>): void {
  let document: Record<string, unknown> | undefined;
  let text: string | undefined;
  const get = () => (document ??= build());
  void app.register(async (docs) => {
    // The plugin's own document is only a stand-in: the page reads the generated one (transformSpecification).
    await docs.register(swagger, { mode: 'static', specification: { document: { openapi: '3.0.3', info: { title: 'Concord', version: '0' }, paths: {} } } });
    await docs.register(swaggerUi, {
      routePrefix: DOCS_PREFIX,
      staticCSP: true,
      transformSpecificationClone: false,
      transformSpecification: () => get(),
      uiConfig: { docExpansion: 'none', deepLinking: true, defaultModelsExpandDepth: -1 },
    });
    docs.get(OPENAPI_URL, async (_request, reply) => reply.type('application/json').send((text ??= JSON.stringify(get()))));
  });
}

import type { FastifyInstance } from 'fastify';
import type { Repository } from '../../fhir/repository.js';

/** /healthz: the process answers. /readyz: the database answers too (for load balancers). */
export function healthRoutes(app: FastifyInstance, repo: Repository): void {
  app.get('/healthz', async (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await repo.ping();
      return await reply.send({ status: 'ready', store: repo.kind });
    } catch (err) {
      request.log.warn({ err }, 'database not reachable');
      return reply.code(503).send({ status: 'unavailable', store: repo.kind });
    }
  });
}

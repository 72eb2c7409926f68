import type { FastifyInstance } from 'fastify';
import type { Repository } from '../../fhir/repository.js';

/** How long /readyz waits for the database: probes must answer promptly either way. */
const READY_TIMEOUT_MS = 1000;

/**
 * /healthz: the process answers (touches no database). /readyz: the database answers too, over the
 * probe's own connection so that a busy pool does not make it wait (for load balancers).
 */
export function healthRoutes(app: FastifyInstance, repo: Repository): void {
  app.get('/healthz', async (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await repo.ping(READY_TIMEOUT_MS);
      return await reply.send({ status: 'ready', store: repo.kind });
    } catch (err) {
      request.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'database not reachable');
      return reply.code(503).send({ status: 'unavailable', store: repo.kind });
    }
  });
}

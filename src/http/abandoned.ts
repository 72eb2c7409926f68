// A signal that aborts when the client goes away before its response is complete (closed socket,
// client timeout), so storage can stop work nobody will receive.
import type { FastifyReply } from 'fastify';

export function abandonedSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // The response closes both after it was sent and when the connection drops; only the latter aborts.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

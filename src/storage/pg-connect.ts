// Start-up against PostgreSQL: an unreachable server (not up yet, restarting, network not ready) is
// retried with backoff for a bounded time; anything else (bad password, missing database) fails at
// once. Either way the failure is one sentence naming where, without credentials.
import { StoreUnavailableError } from '../fhir/store-unavailable.js';
import { isConnectionError } from './faults.js';

/** Why Concord could not open its database; the message is meant to be printed as is. */
export class DatabaseConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseConnectError';
  }
}

/** host:port/database of a PostgreSQL URL (never the user or password). */
export function databaseLocation(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `${host}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'an unparsable DATABASE_URL';
  }
}

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** A short reason for err: the server's own message, or what the socket error code means. */
export function connectFailureReason(err: unknown): string {
  const inner = err instanceof StoreUnavailableError && err.cause !== undefined ? err.cause : err;
  const e = inner as { code?: unknown; message?: unknown; severity?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && SOCKET_REASONS[e.code]) return SOCKET_REASONS[e.code]!;
  const message = typeof e.message === 'string' ? (e.message.split('\n')[0] ?? '') : '';
  if (message.includes('connection timeout') || message.includes('timeout expired')) return 'connection timed out';
  if (e.cause !== undefined && e.cause !== inner && !message) return connectFailureReason(e.cause);
  return message || 'unknown error';
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function connectWithRetry(
  attempt: () => Promise<unknown>,
  options: { timeoutMs: number; where: string; onRetry?: (err: unknown, attempt: number, delayMs: number) => void },
): Promise<void> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    try {
      await attempt();
      return;
    } catch (err) {
      const delay = Math.min(2000, 100 * 2 ** (n - 1));
      const elapsed = Date.now() - started;
      if (!isConnectionError(err) || elapsed + delay > options.timeoutMs) {
        const retried = n > 1 ? ` (gave up after ${Math.round(elapsed / 1000)} s)` : '';
        throw new DatabaseConnectError(
          `cannot connect to PostgreSQL at ${databaseLocation(options.where)}: ${connectFailureReason(err)}${retried}`,
          { cause: err },
        );
      }
      options.onRetry?.(err, n, delay);
      await sleep(delay);
    }
  }
}

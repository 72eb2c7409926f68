// Classifies node-postgres failures: connection faults, pool exhaustion, statement timeouts and
// cancellations become StoreUnavailableError (answered 503 by the HTTP layer); SQL errors (constraint
// violations, serialization failures, ...) pass through unchanged for the callers that react to them.
import { StoreUnavailableError } from '../fhir/store-unavailable.js';
import { sqlStateOf } from './database.js';

// Socket-level errors of the driver (Node's errno codes).
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
// SQLSTATEs meaning the session is gone or cannot start: class 08 (connection exception), 57P01
// admin_shutdown (pg_terminate_backend, fast shutdown), 57P02 crash_shutdown, 57P03 cannot_connect_now
// (starting up / recovering), 53300 too_many_connections.
const SESSION_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
// node-postgres reports a dropped socket with messages only.
const DRIVER_MESSAGES = ['Connection terminated', 'is not queryable', 'timeout expired'];
/** pg-pool's error when connectionTimeoutMillis passes with every client checked out. */
const POOL_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';
const QUERY_CANCELED = '57014';

export function isConnectionError(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return err.reason === 'connection';
  const code = sqlStateOf(err);
  if (code !== undefined && (SOCKET_CODES.has(code) || SESSION_STATES.has(code) || code.startsWith('08'))) return true;
  const message = err instanceof Error ? err.message : '';
  return DRIVER_MESSAGES.some((m) => message.includes(m));
}

/**
 * The StoreUnavailableError for err, or err itself when it is not a database availability problem.
 * timeout: what a statement timeout means where the statement ran (a search or a write).
 */
export function classify(err: unknown, context: { timeout: 'search-timeout' | 'write-timeout'; signal?: AbortSignal | undefined }): unknown {
  if (err instanceof StoreUnavailableError) return err;
  if (context.signal?.aborted) return new StoreUnavailableError('cancelled', 'the client went away; the statement was cancelled', { cause: err });
  const message = err instanceof Error ? err.message : '';
  if (message.includes(POOL_TIMEOUT_MESSAGE)) {
    return new StoreUnavailableError('busy', 'no database connection became free in time', { cause: err });
  }
  if (sqlStateOf(err) === QUERY_CANCELED) {
    return new StoreUnavailableError(context.timeout, 'the statement ran longer than its timeout and was cancelled', { cause: err });
  }
  if (isConnectionError(err)) {
    return new StoreUnavailableError('connection', 'the database connection failed', { cause: err });
  }
  return err;
}

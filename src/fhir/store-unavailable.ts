// The one storage failure the interaction layer knows about: the database could not do the work now
// (connection lost, no free connection, statement timeout, or the client went away). Storage throws it
// (src/storage maps driver errors to it; nothing here knows the driver); the HTTP layer, and a batch for each
// entry, answers 503.
import { FhirError, issue } from './outcome.js';

export type UnavailableReason =
  /** The connection failed or the server is unreachable: retrying shortly may succeed. */
  | 'connection'
  /** Every pooled connection stayed busy for the acquire timeout. */
  | 'busy'
  /** A search ran longer than its statement timeout: retrying unchanged will likely fail again. */
  | 'search-timeout'
  /** A write ran longer than its statement timeout (rolled back). */
  | 'write-timeout'
  /** The request was abandoned by its client; the statement was cancelled. */
  | 'cancelled';

export class StoreUnavailableError extends Error {
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The database could not do the work now: 503, which clients and load balancers treat as retryable.
 * Retry-After only where an unchanged retry can succeed: a search that hit its timeout would again.
 */
export function fromStoreUnavailable(err: StoreUnavailableError): FhirError {
  switch (err.reason) {
    case 'search-timeout':
      return new FhirError(503, issue('too-costly', 'The search took longer than the server allows and was stopped; narrow it (more selective parameters, smaller _count, no _total=accurate)'));
    case 'write-timeout':
      return new FhirError(503, issue('timeout', 'The write took longer than the server allows and was rolled back; nothing was changed'), { 'Retry-After': '5' });
    case 'busy':
      return new FhirError(503, issue('transient', 'The server is busy: no database connection became free in time'), { 'Retry-After': '1' });
    case 'cancelled':
      return new FhirError(503, issue('transient', 'The request was abandoned by the client'));
    case 'connection':
      return new FhirError(503, issue('transient', 'The database connection failed; the request was not completed'), { 'Retry-After': '1' });
  }
}

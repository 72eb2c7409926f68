// The one storage failure the interaction layer knows about: the database could not do the work now
// (connection lost, no free connection, statement timeout, or the client went away). Storage throws it
// (src/storage maps driver errors to it; nothing here knows the driver) and the HTTP layer answers 503.

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

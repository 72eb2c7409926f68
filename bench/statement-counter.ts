// Counts the statements and round trips the server sends to PostgreSQL while `counting` is on, by wrapping
// pg.Client.prototype.query (the benches that show what a write costs in statements: write-round-trips.ts,
// event-recording-cost.ts; and test/subscriptions/event-insert-pipelined.test.ts). A statement sent while the same connection still has one outstanding rides in
// the pipeline: a statement, not a round trip.
import pg from 'pg';

export interface StatementCounter {
  counting: boolean;
  statements: number;
  trips: number;
  /** Statements by their first 48 characters (whitespace folded). */
  kinds: Map<string, number>;
  reset(): void;
  /** Puts the driver's own query back. */
  stop(): void;
}

/** Not part of any request: the read-cache fence's announcements, the listener's LISTEN and the subscription dispatcher's poll. */
export const isBackground = (text: string): boolean =>
  text.startsWith('SELECT pg_notify($1, $2)') || text.startsWith('LISTEN') || text.trimStart().startsWith('WITH due AS');

export interface SentStatement {
  text: string;
  values: unknown[] | undefined;
  /** Sent as a named (prepared) statement. */
  named: boolean;
}

/**
 * Calls `seen` with each statement any node-postgres client of this process sends while `act` runs (the
 * SQL floor's capture, bench/create-sql-replay.ts; the fence's syncs, test/storage/read-fence.test.ts).
 */
export async function watchStatements<T>(seen: (statement: SentStatement) => void, act: () => Promise<T>): Promise<T> {
  type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const config = args[0] as string | { text?: string; values?: unknown[]; name?: string };
    if (typeof config === 'string') seen({ text: config, values: args[1] as unknown[] | undefined, named: false });
    else seen({ text: config.text ?? '', values: config.values, named: config.name !== undefined });
    return original.apply(this, args);
  };
  try {
    return await act();
  } finally {
    proto.query = original;
  }
}

export function countStatements(): StatementCounter {
  type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const original = proto.query;
  const counter: StatementCounter = {
    counting: false,
    statements: 0,
    trips: 0,
    kinds: new Map(),
    reset() {
      this.statements = this.trips = 0;
      this.kinds.clear();
    },
    stop() {
      proto.query = original;
    },
  };
  const outstanding = new WeakMap<object, number>();
  proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const config = args[0] as string | { text?: string };
    const text = typeof config === 'string' ? config : (config.text ?? '');
    const busy = outstanding.get(this) ?? 0;
    if (counter.counting && !isBackground(text)) {
      counter.statements++;
      if (busy === 0) counter.trips++;
      const kind = text.replace(/\s+/g, ' ').trim().slice(0, 48);
      counter.kinds.set(kind, (counter.kinds.get(kind) ?? 0) + 1);
    }
    outstanding.set(this, busy + 1);
    const done = (): void => void outstanding.set(this, (outstanding.get(this) ?? 1) - 1);
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
    else done();
    return result;
  };
  return counter;
}

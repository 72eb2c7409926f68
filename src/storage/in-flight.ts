// The statements of a transaction that were sent without anyone waiting for them (TransactionQueryable
// commitsOnlyAfter), and which error the transaction fails with. PostgreSQL runs a connection's statements
// in the order they were sent; once one fails, every later one fails with "current transaction is
// aborted". So the error to report is the earliest failure in sending order: a statement that fails (or
// succeeds) reports the failure of an unwaited statement sent before it, never its own consequential
// error; and the transaction commits only when every unwaited statement succeeded.
export class InFlight {
  private position = 0;
  private readonly pending = new Map<number, Promise<unknown>>();
  private failure: { at: number; err: unknown } | undefined;
  private closed = false;

  /**
   * No statement may be sent any more (the transaction's function is done; COMMIT or ROLLBACK follows):
   * run then refuses without sending, and the refusal does not count as the transaction's failure.
   */
  close(): void {
    this.closed = true;
  }

  /** A statement sent just now that nobody waits for. */
  add(statement: Promise<unknown>): void {
    this.track(++this.position, statement);
  }

  /**
   * Every statement is tracked, also those waited for: a failure whose rejection its caller dropped (a
   * prefetched read nobody used) still fails the transaction with its own error at commit.
   */
  private track(at: number, statement: Promise<unknown>): void {
    this.pending.set(at, statement);
    statement.then(
      () => this.pending.delete(at),
      (err: unknown) => {
        if (!this.failure || at < this.failure.at) this.failure = { at, err };
        this.pending.delete(at);
      },
    );
  }

  /** Runs a statement sent just now by send, reporting an earlier unwaited statement's failure first. */
  async run<T>(send: () => Promise<T>): Promise<T> {
    if (this.closed) throw new TransactionClosedError();
    const at = ++this.position;
    const quiet = this.pending.size === 0 && !this.failure;
    const result = send();
    this.track(at, result);
    if (quiet) return result;
    result.catch(() => undefined);
    let value: T;
    try {
      value = await result;
    } catch (err) {
      await this.settle(at);
      throw this.failureBefore(at) ?? err;
    }
    await this.settle(at);
    const failed = this.failureBefore(at);
    if (failed !== undefined) throw failed;
    return value;
  }

  /** Waits for every unwaited statement; throws the earliest failure among them. */
  async all(): Promise<void> {
    await this.settle(Infinity);
    const failed = this.failureBefore(Infinity);
    if (failed !== undefined) throw failed;
  }

  private async settle(before: number): Promise<void> {
    const earlier = [...this.pending].filter(([at]) => at < before).map(([, p]) => p);
    if (earlier.length > 0) await Promise.allSettled(earlier);
  }

  private failureBefore(at: number): Error | undefined {
    if (!this.failure || this.failure.at >= at) return undefined;
    const { err } = this.failure;
    return err instanceof Error ? err : new Error(`a statement of the transaction failed: ${String(err)}`);
  }
}

/** A statement issued after its transaction's function returned (e.g. from a callback nobody awaited). */
export class TransactionClosedError extends Error {
  constructor() {
    super('the transaction is over: a statement issued after its function returned was not sent');
    this.name = 'TransactionClosedError';
  }
}

// Group commit for AuditEvents recorded outside a write transaction (reads, searches, refusals, token
// requests). Each caller waits until its event is durable, but concurrent events share one INSERT:
// while an insert is in flight, new events queue and the next insert takes all of them (up to
// maxBatch). Under load that is one round trip per batch instead of one per request; alone, an event
// waits for exactly one insert.
import type { AuditRecord, AuditStore } from './types.js';

interface Pending {
  record: AuditRecord;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface RecorderOptions {
  /** Most events in one INSERT. */
  maxBatch?: number;
  /** Inserts in flight at once (each on its own connection). */
  maxInFlight?: number;
}

export class AuditRecorder {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly store: AuditStore,
    options: RecorderOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  /** Resolves once the event is stored; rejects when the store could not take it. */
  record(record: AuditRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      // Events arriving in the same turn of the event loop go together.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      this.store.insert(batch.map((p) => p.record)).then(
        () => {
          for (const p of batch) p.resolve();
        },
        (err: unknown) => {
          for (const p of batch) p.reject(err);
        },
      ).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }
}

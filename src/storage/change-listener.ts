// A LISTEN that keeps itself connected: the per-instance caches (current versions, registered clients) are
// only exact while they hear every other instance's changes, so they are used only while connected, cleared
// when the connection is lost, and the listener reconnects every second until it is closed.
import type { Database, ListenHandle } from './database.js';

const RELISTEN_MS = 1000;

export interface ChangeHandlers {
  /** A change announced by any instance (the NOTIFY payload). */
  onChange(payload: string): void;
  /** Listening (again): from now on every change is heard. */
  onConnected(): void;
  /** Notifications may have been missed: forget what was cached and stop caching until onConnected. */
  onLost(): void;
}

export class ChangeListener {
  private handle: ListenHandle | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly channel: string,
    private readonly handlers: ChangeHandlers,
  ) {}

  /** Connects (PostgreSQL only); a failure is retried in the background, never thrown. */
  async start(): Promise<void> {
    if (this.closed || !this.db.listen) return;
    try {
      const handle = await this.db.listen(this.channel, (payload) => this.handlers.onChange(payload), () => {
        this.handle = undefined;
        this.handlers.onLost();
        this.scheduleRelisten();
      });
      // Closed while connecting: this listener must not outlive its owner.
      if (this.closed) return void (await handle.stop());
      this.handle = handle;
      this.handlers.onConnected();
    } catch {
      this.scheduleRelisten();
    }
  }

  private scheduleRelisten(): void {
    if (this.closed || this.relisten) return;
    this.relisten = setTimeout(() => {
      this.relisten = undefined;
      void this.start();
    }, RELISTEN_MS);
    this.relisten.unref();
  }

  /** NOTIFY over the listening connection; rejects while it is not connected. */
  async notify(payload: string): Promise<void> {
    if (!this.handle) throw new Error('not listening');
    await this.handle.notify(payload);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.relisten);
    await this.handle?.stop();
  }
}

// One LISTEN connection per Database for every channel this process listens on (the change channel, the
// Subscription wake-up, the registered clients). PostgreSQL signals every listening backend of the
// database on every NOTIFY, whatever its channel, and each signalled backend reads the notification queue
// in a short transaction of its own: with a connection per channel each committing write woke three
// backends per instance, with one it wakes one (bench/listener-wake.ts, bench/RESULTS.md 2026-12-06).
//
// What each caller gets is what a connection of its own gave it: listen() resolves only once LISTEN for
// its channel has been executed (from then on every commit is heard, in commit order), onLost fires once
// for each registration when the connection fails, and notify() travels over the listening connection.
import pg from 'pg';
import type { ListenHandle } from './database.js';

interface Registration {
  channel: string;
  onMessage(payload: string): void;
  onLost(err: unknown): void;
}

interface Connection {
  client: pg.Client;
  ready: Promise<void>;
  /** LISTEN per channel, executed or under way: a second caller for a channel waits for the same one. */
  channels: Map<string, Promise<void>>;
  registrations: Set<Registration>;
  /** Set once: it failed, or it ended because its last caller stopped. */
  closed: 'failed' | 'ended' | undefined;
  /** The statement before the next one: node-postgres deprecates sending while the client is busy. */
  queue: Promise<unknown>;
}

/** One statement at a time on the shared client, in the order they were asked for. */
function run(conn: Connection, sql: string, params?: unknown[]): Promise<void> {
  const next = conn.queue.then(() => conn.client.query(sql, params)).then(() => undefined);
  conn.queue = next.catch(() => undefined);
  return next;
}

export class SharedListener {
  private current: Connection | undefined;

  constructor(private readonly config: pg.ClientConfig) {}

  async listen(channel: string, onMessage: (payload: string) => void, onLost: (err: unknown) => void): Promise<ListenHandle> {
    for (;;) {
      const conn = this.current ?? this.open();
      try {
        await conn.ready;
        await this.listening(conn, channel);
      } catch (err) {
        // Ended because its last caller stopped while this one was joining: a new connection is opened.
        if (conn.closed === 'ended') continue;
        throw err;
      }
      if (conn.closed === 'ended') continue;
      // The connection failed while LISTEN ran: then nothing is heard, and this caller is told.
      if (conn.closed) throw new Error('listen connection ended');
      const registration: Registration = { channel, onMessage, onLost };
      conn.registrations.add(registration);
      return {
        stop: () => this.stop(conn, registration),
        notify: async (payload) => {
          if (conn.closed) throw new Error('listen connection ended');
          await run(conn, 'SELECT pg_notify($1, $2)', [channel, payload]);
        },
      };
    }
  }

  /** LISTEN for the channel on this connection, once, however many callers ask at the same time. */
  private listening(conn: Connection, channel: string): Promise<void> {
    let listening = conn.channels.get(channel);
    if (!listening) {
      listening = run(conn, `LISTEN ${pg.Client.prototype.escapeIdentifier(channel)}`);
      conn.channels.set(channel, listening);
      // A failed LISTEN is the error of the callers waiting for it; a later caller tries again.
      listening.catch(() => conn.channels.delete(channel));
    }
    return listening;
  }

  private open(): Connection {
    const client = new pg.Client(this.config);
    const conn: Connection = { client, ready: Promise.resolve(), channels: new Map(), registrations: new Set(), closed: undefined, queue: Promise.resolve() };
    const fail = (err: unknown): void => {
      if (conn.closed) return;
      conn.closed = 'failed';
      if (this.current === conn) this.current = undefined;
      for (const r of conn.registrations) r.onLost(err);
      conn.registrations.clear();
      void client.end().catch(() => undefined);
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('listen connection ended')));
    client.on('notification', (msg) => {
      const payload = msg.payload ?? '';
      for (const r of conn.registrations) if (r.channel === msg.channel) r.onMessage(payload);
    });
    conn.ready = client.connect().then(() => undefined, (err: unknown) => {
      fail(err);
      throw err;
    });
    // Callers that never arrive must not see an unhandled rejection; each caller awaits ready itself.
    conn.ready.catch(() => undefined);
    this.current = conn;
    return conn;
  }

  private async stop(conn: Connection, registration: Registration): Promise<void> {
    if (!conn.registrations.delete(registration) || conn.closed) return;
    const stillHeard = [...conn.registrations].some((r) => r.channel === registration.channel);
    if (conn.registrations.size === 0) {
      // Nobody listens any more: the connection ends (a later listen opens a new one).
      conn.closed = 'ended';
      if (this.current === conn) this.current = undefined;
      await conn.client.end().catch(() => undefined);
      return;
    }
    if (!stillHeard) {
      conn.channels.delete(registration.channel);
      await run(conn, `UNLISTEN ${pg.Client.prototype.escapeIdentifier(registration.channel)}`).catch(() => undefined);
    }
  }
}

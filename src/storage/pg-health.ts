// The readiness probe's own PostgreSQL connection: /readyz must answer within about a second even when
// every pooled connection is busy (a full pool is not an unreachable database), and a probe that
// cannot finish in time answers "not ready" instead of waiting.
import pg from 'pg';

export class HealthProbe {
  private client: Promise<pg.Client> | undefined;
  private closed = false;

  constructor(private readonly config: pg.ClientConfig) {}

  async ping(timeoutMs: number): Promise<void> {
    if (this.closed) throw new Error('the database is closed');
    let timer: NodeJS.Timeout | undefined;
    const attempt = this.select(timeoutMs);
    attempt.catch(() => undefined);
    try {
      await Promise.race([
        attempt,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('health check timeout expired')), timeoutMs);
        }),
      ]);
    } catch (err) {
      // Whatever went wrong, the next probe starts from a fresh connection.
      this.reset();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async select(timeoutMs: number): Promise<void> {
    this.client ??= this.connect(timeoutMs);
    const client = await this.client;
    await client.query('SELECT 1');
  }

  private connect(timeoutMs: number): Promise<pg.Client> {
    const client = new pg.Client({ ...this.config, connectionTimeoutMillis: timeoutMs });
    const connected = client.connect().then(() => client);
    client.on('error', () => {
      if (this.client === connected) this.reset();
    });
    return connected;
  }

  private reset(): void {
    const old = this.client;
    this.client = undefined;
    void old?.then((c) => c.end()).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const old = this.client;
    this.client = undefined;
    await old?.then((c) => c.end()).catch(() => undefined);
  }
}

// A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that records every delivery and can
// be told to fail (down), to answer late (slow) or to answer normally.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Parameters } from '@medplum/fhirtypes';

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  bundle: Bundle;
  /** What the receiver answered (0: it never answered: slow mode). */
  answered: number;
}

export type Mode = 'ok' | 'down' | { slowMs: number };

export class Receiver {
  readonly deliveries: Delivery[] = [];
  mode: Mode = 'ok';
  private server!: Server;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const d: Delivery = { headers: req.headers, body, bundle: JSON.parse(body) as Bundle, answered: 0 };
        this.deliveries.push(d);
        const mode = this.mode;
        if (mode === 'down') {
          d.answered = 503;
          res.writeHead(503).end();
        } else if (mode === 'ok') {
          d.answered = 200;
          res.writeHead(200).end();
        } else {
          setTimeout(() => {
            if (res.destroyed || req.socket.destroyed) return;
            d.answered = 200;
            res.writeHead(200).end();
          }, mode.slowMs).unref();
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Deliveries of one Subscription (by its reference in the status Parameters). */
  of(subscriptionId: string): Delivery[] {
    return this.deliveries.filter((d) => statusParam(d.bundle, 'subscription')?.valueReference?.reference?.endsWith(`/Subscription/${subscriptionId}`));
  }

  /**
   * The event numbers of the acknowledged event-notification deliveries, in arrival order, counting a
   * webhook id once (a delivery whose answer came after the sender's timeout is sent again with the
   * same id: at-least-once, deduplicated by the receiver as Standard Webhooks intends).
   */
  acknowledgedNumbers(subscriptionId: string): number[] {
    const seen = new Map<string, string>();
    const out: number[] = [];
    for (const d of this.of(subscriptionId)) {
      if (d.answered !== 200 || notificationType(d) !== 'event-notification') continue;
      const id = String(d.headers['webhook-id']);
      const numbers = eventNumbers(d.bundle).join(',');
      if (seen.has(id)) {
        // A redelivery carries exactly the same events.
        if (seen.get(id) !== numbers) throw new Error(`webhook id ${id} carried ${seen.get(id)} and then ${numbers}`);
        continue;
      }
      seen.set(id, numbers);
      out.push(...eventNumbers(d.bundle));
    }
    return out;
  }
}

export function statusParameters(bundle: Bundle): Parameters {
  return bundle.entry?.[0]?.resource as Parameters;
}

export function statusParam(bundle: Bundle, name: string): NonNullable<Parameters['parameter']>[number] | undefined {
  return statusParameters(bundle).parameter?.find((p) => p.name === name);
}

export function notificationType(d: Delivery): string | undefined {
  return statusParam(d.bundle, 'type')?.valueCode;
}

export function eventNumbers(bundle: Bundle): number[] {
  return (statusParameters(bundle).parameter ?? [])
    .filter((p) => p.name === 'notification-event')
    .map((p) => Number(p.part?.find((x) => x.name === 'event-number')?.valueString));
}

/** Polls until check() holds (outcomes, not timing: the limit is generous for a loaded machine). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

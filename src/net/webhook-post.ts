// POSTs a webhook body through the outbound guard: the endpoint is checked again at send time against
// the address it resolves to now (a name re-pointed at a private address after the Subscription was
// saved is refused), the connection goes to that checked address, no redirect is followed (a 3xx is a
// failed delivery) and the whole exchange is bounded by a timeout. The connect step is injectable so
// tests can record what would be contacted without a packet leaving the machine.
import http from 'node:http';
import https from 'node:https';
import { pinnedRequest, type OutboundGuard } from './outbound-guard.js';

export interface PostTarget {
  url: URL;
  address: string;
  family: 4 | 6;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** Sends and answers the HTTP status (the response body is read and discarded, at most 64 KiB). */
export type PostConnector = (target: PostTarget) => Promise<number>;

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Sends over kept-alive connections, one agent per (scheme, checked address, port, TLS name): the guard
 * checks the endpoint on every POST and a request only ever reuses a socket already connected to the
 * address that check answered, so keep-alive never bypasses the send-time check. A name re-pointed
 * elsewhere gets a new agent (a new, checked connection); the old one's idle sockets time out.
 */
export function keepAlivePostConnector(options: { idleMs?: number; maxSocketsPerAddress?: number } = {}): PostConnector & { close(): void } {
  const agents = new Map<string, http.Agent>();
  const agentFor = (target: PostTarget): http.Agent => {
    const secure = target.url.protocol === 'https:';
    const key = `${target.url.protocol}//${target.address}:${target.url.port}|${secure ? target.url.hostname : ''}`;
    let agent = agents.get(key);
    if (!agent) {
      const o = { keepAlive: true, maxSockets: options.maxSocketsPerAddress ?? 8, maxFreeSockets: options.maxSocketsPerAddress ?? 8, timeout: options.idleMs ?? 30_000 };
      agent = secure ? new https.Agent(o) : new http.Agent(o);
      agents.set(key, agent);
    }
    return agent;
  };
  const connector = (target: PostTarget) => send(target, agentFor(target));
  return Object.assign(connector, {
    close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  });
}

/** One connection per POST (no keep-alive). */
export const nodePostConnector: PostConnector = (target) => send(target, false);

function send(target: PostTarget, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = pinnedRequest(
      target,
      'POST',
      { ...target.headers, 'content-length': String(Buffer.byteLength(target.body)) },
      (response) => {
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) request.destroy(new Error('response too large'));
        });
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
      agent,
    );
    // The whole exchange, not only idle time: a receiver trickling bytes cannot hold a delivery open.
    const deadline = setTimeout(() => request.destroy(new Error(`no answer within ${target.timeoutMs} ms`)), target.timeoutMs);
    request.on('close', () => clearTimeout(deadline));
    request.on('timeout', () => request.destroy(new Error(`no answer within ${target.timeoutMs} ms`)));
    request.on('error', reject);
    request.end(target.body);
  });
}

export class WebhookPoster {
  constructor(
    private readonly guard: OutboundGuard,
    private readonly connector: PostConnector = nodePostConnector,
  ) {}

  /** The HTTP status of the receiver's answer; throws OutboundRefused or a network error. */
  async post(endpoint: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
    const url = new URL(endpoint);
    const target = await this.guard.check(url);
    return this.connector({ url, ...target, headers, body, timeoutMs });
  }
}

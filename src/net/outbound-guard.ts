// Outbound HTTP requests to URLs that clients supply (JWKS URLs now, webhooks later) must not reach the
// server's own network: a client could otherwise make Concord probe internal services or read the cloud
// metadata endpoint (server-side request forgery). The guard
//   - allows https only, unless the operator's allow-list names the host (then http and any address);
//   - resolves the host itself and refuses when ANY resolved address is private, loopback, link-local,
//     multicast, reserved or a metadata address;
//   - connects to the address it checked (no second DNS lookup an attacker could answer differently);
//   - follows no redirects, bounds the time and the response size.
// Resolver and connector are injectable so tests can assert what would be contacted without a packet.
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface ConnectTarget {
  url: URL;
  /** The checked address to connect to. */
  address: string;
  family: 4 | 6;
  timeoutMs: number;
  maxBytes: number;
}

export interface FetchedResponse {
  status: number;
  contentType?: string;
  body: string;
}

export type Connector = (target: ConnectTarget) => Promise<FetchedResponse>;

export interface OutboundGuardOptions {
  /** Hosts (`host` or `host:port`, lower case) the operator allows over http and to any address. */
  allowedHosts?: string[];
  timeoutMs?: number;
  maxBytes?: number;
  resolver?: Resolver;
  connector?: Connector;
}

export class OutboundRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefused';
  }
}

/** The host has no address (now): not a forbidden target, but nothing to contact either. */
export class UnresolvedHost extends OutboundRefused {
  constructor(host: string) {
    super(`${host} does not resolve`);
    this.name = 'UnresolvedHost';
  }
}

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, incl. the 169.254.169.254 metadata service
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local, incl. fd00:ec2::254 (cloud metadata)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/** An IPv4 address embedded in an IPv6 one (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96). */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  return undefined;
}

/** Whether an address may be contacted: a public unicast address. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !BLOCKED.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return !BLOCKED.check(v4, 'ipv4');
    return !BLOCKED.check(address, 'ipv6');
  }
  return false;
}

const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** An http(s) request to the checked address; TLS still verifies the certificate against the URL's host name. */
export function pinnedRequest(
  target: { url: URL; address: string; family: 4 | 6; timeoutMs: number },
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  onResponse: (response: http.IncomingMessage) => void,
  /** A keep-alive agent of this checked address only (webhook-post.ts); default: a new connection. */
  agent: http.Agent | false = false,
): http.ClientRequest {
  const { url } = target;
  const secure = url.protocol === 'https:';
  return (secure ? https : http).request(
    {
      protocol: url.protocol,
      host: target.address,
      family: target.family,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method,
      headers: { ...headers, host: url.host },
      ...(secure ? { servername: url.hostname } : {}),
      timeout: target.timeoutMs,
      agent,
    },
    onResponse,
  );
}

const nodeConnector: Connector = (target) =>
  new Promise((resolve, reject) => {
    const request = pinnedRequest(
      target,
      'GET',
      { accept: 'application/json' },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > target.maxBytes) {
            request.destroy(new OutboundRefused(`response larger than ${target.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            ...(response.headers['content-type'] ? { contentType: response.headers['content-type'] } : {}),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new OutboundRefused(`no answer within ${target.timeoutMs} ms`)));
    request.on('error', reject);
    request.end();
  });

export class OutboundGuard {
  private readonly allowed: Set<string>;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly resolver: Resolver;
  private readonly connector: Connector;

  constructor(options: OutboundGuardOptions = {}) {
    this.allowed = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxBytes = options.maxBytes ?? 256 * 1024;
    this.resolver = options.resolver ?? systemResolver;
    this.connector = options.connector ?? nodeConnector;
  }

  private isAllowListed(url: URL): boolean {
    return this.allowed.has(url.hostname.toLowerCase()) || this.allowed.has(url.host.toLowerCase());
  }

  /** The address to connect to for url, or OutboundRefused. */
  async check(url: URL): Promise<ResolvedAddress> {
    if (url.username || url.password) throw new OutboundRefused('credentials in URLs are not allowed');
    const allowListed = this.isAllowListed(url);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowListed)) {
      throw new OutboundRefused(`only https URLs are allowed (${url.protocol} for ${url.host})`);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const literal = isIP(host);
    const addresses = literal ? [{ address: host, family: literal as 4 | 6 }] : await this.resolver(host);
    if (addresses.length === 0) throw new UnresolvedHost(host);
    if (!allowListed) {
      const blocked = addresses.find((a) => !isPublicAddress(a.address));
      if (blocked) throw new OutboundRefused(`${host} resolves to a non-public address`);
    }
    return addresses[0]!;
  }

  /** GET url with the checks above; any status other than 200 (redirects included) is refused. */
  async get(url: string | URL): Promise<FetchedResponse> {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    const target = await this.check(parsed);
    const response = await this.connector({ url: parsed, ...target, timeoutMs: this.timeoutMs, maxBytes: this.maxBytes });
    if (response.status !== 200) throw new OutboundRefused(`${parsed.host} answered ${response.status}; redirects are not followed`);
    return response;
  }
}

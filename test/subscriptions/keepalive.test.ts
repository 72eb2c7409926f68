// Webhook POSTs reuse kept-alive connections, but only to the address the outbound guard checked for
// that very POST: a name re-pointed meanwhile gets a new connection to its new (checked) address.
// Loopback only: receivers on 127.0.0.1 and 127.0.0.2, allow-listed; names resolved by a test table.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundGuard } from '../../src/net/outbound-guard.js';
import { keepAlivePostConnector, nodePostConnector, WebhookPoster } from '../../src/net/webhook-post.js';

interface Receiver {
  server: Server;
  connections: number;
  requests: number;
}

async function receiver(host: string, port = 0): Promise<Receiver> {
  const r: Receiver = { server: createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end(`ok ${host}`))), connections: 0, requests: 0 };
  r.server.on('connection', () => r.connections++);
  r.server.on('request', () => r.requests++);
  await new Promise<void>((resolve) => r.server.listen(port, host, resolve));
  return r;
}

const close = (r: Receiver) => new Promise<void>((resolve) => r.server.close(() => resolve()));

describe('webhook keep-alive', () => {
  let one: Receiver;
  let two: Receiver;
  let port: number;
  beforeAll(async () => {
    one = await receiver('127.0.0.1');
    port = (one.server.address() as AddressInfo).port;
    two = await receiver('127.0.0.2', port);
  });
  afterAll(async () => {
    one.server.closeAllConnections();
    two.server.closeAllConnections();
    await Promise.all([close(one), close(two)]);
  });

  it('consecutive POSTs to one endpoint share one connection (a new one each without keep-alive)', async () => {
    const guard = new OutboundGuard({ allowedHosts: [`127.0.0.1:${port}`] });
    const connector = keepAlivePostConnector();
    try {
      const before = one.connections;
      const poster = new WebhookPoster(guard, connector);
      for (let i = 0; i < 3; i++) expect(await poster.post(`http://127.0.0.1:${port}/hook`, {}, '{}', 2000)).toBe(200);
      expect(one.connections - before).toBe(1);
      const plain = new WebhookPoster(guard, nodePostConnector);
      for (let i = 0; i < 3; i++) expect(await plain.post(`http://127.0.0.1:${port}/hook`, {}, '{}', 2000)).toBe(200);
      expect(one.connections - before).toBe(4);
    } finally {
      connector.close();
    }
  });

  it('a name re-pointed to another address is checked again and reached over a new connection, not the kept-alive one', async () => {
    let answer = '127.0.0.1';
    const guard = new OutboundGuard({ allowedHosts: [`hook.test:${port}`], resolver: () => Promise.resolve([{ address: answer, family: 4 }]) });
    const connector = keepAlivePostConnector();
    try {
      const poster = new WebhookPoster(guard, connector);
      const [oneBefore, twoBefore] = [one.requests, two.requests];
      expect(await poster.post(`http://hook.test:${port}/hook`, {}, '{}', 2000)).toBe(200);
      answer = '127.0.0.2';
      expect(await poster.post(`http://hook.test:${port}/hook`, {}, '{}', 2000)).toBe(200);
      expect([one.requests - oneBefore, two.requests - twoBefore]).toEqual([1, 1]);
      // An address the guard refuses now is refused before any connection, kept-alive or new.
      const strict = new WebhookPoster(new OutboundGuard({ resolver: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]) }), connector);
      const connections = one.connections;
      await expect(strict.post(`https://hook.test:${port}/hook`, {}, '{}', 2000)).rejects.toThrow(/non-public/);
      expect(one.connections).toBe(connections);
    } finally {
      connector.close();
    }
  });
});

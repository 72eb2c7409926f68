// The requests-in-flight count the Subscription dispatcher reads as its busy sign (src/http/in-flight.ts),
// over a real port: it rises with requests being answered, falls when each response ends or its client goes
// away, and leaves out websocket connections (held for as long as their socket lives).
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { countRequestsInFlight, RequestsInFlight } from '../../src/http/in-flight.js';
import { openSocket } from '../subscriptions/ws-client.js';

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('requests in flight', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** An app whose /slow answers when released; its port. */
  async function start(counter: RequestsInFlight): Promise<{ port: number; release: () => void; entered: () => number }> {
    app = Fastify();
    countRequestsInFlight(app, counter);
    await app.register(fastifyWebsocket);
    let waiting: (() => void)[] = [];
    let entered = 0;
    app.get('/slow', async () => {
      entered++;
      await new Promise<void>((r) => waiting.push(r));
      return { ok: true };
    });
    app.get('/fast', () => Promise.resolve({ ok: true }));
    app.get('/socket', { websocket: true }, () => undefined);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      port: (app.server.address() as AddressInfo).port,
      release: () => {
        for (const r of waiting) r();
        waiting = [];
      },
      entered: () => entered,
    };
  }

  it('counts requests from arrival until their response ends', async () => {
    const counter = new RequestsInFlight();
    const { port, release, entered } = await start(counter);
    const slow = Array.from({ length: 3 }, () => fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.json()));
    await until(() => entered() === 3, 'three requests in the handler');
    expect(counter.count).toBe(3);
    await fetch(`http://127.0.0.1:${port}/fast`).then((r) => r.json());
    expect(counter.count).toBe(3);
    release();
    expect(await Promise.all(slow)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    await until(() => counter.count === 0, 'every response closed');
  });

  it('a request whose client went away counts no more', async () => {
    const counter = new RequestsInFlight();
    const { port, release, entered } = await start(counter);
    const req = httpRequest({ host: '127.0.0.1', port, path: '/slow' });
    req.on('error', () => undefined);
    req.end();
    await until(() => entered() === 1, 'the request in the handler');
    expect(counter.count).toBe(1);
    req.destroy();
    await until(() => counter.count === 0, 'the abandoned request uncounted');
    release();
  });

  it('an open websocket is not a request in flight', async () => {
    const counter = new RequestsInFlight();
    const { port } = await start(counter);
    const socket = await openSocket(`ws://127.0.0.1:${port}/socket`);
    try {
      await new Promise((r) => setTimeout(r, 50));
      expect(counter.count).toBe(0);
    } finally {
      socket.close();
    }
  });
});

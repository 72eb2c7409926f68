// The websocket endpoint of the Subscription websocket channel (GET /fhir/ws, upgraded). Public to
// connect: a socket receives nothing until it binds with a token from $get-ws-binding-token, which only
// a client allowed to read that Subscription obtains. The hub (src/subscriptions/websocket-hub.ts) does
// the rest; this file only adapts the `ws` socket.
import type { FastifyInstance } from 'fastify';
import type { WebsocketHub } from '../../subscriptions/websocket-hub.js';
import { WEBSOCKET_PATH } from '../access.js';

/** The members of a `ws` socket used here (the package ships no types). */
interface WsSocket {
  send(text: string, done: (err?: Error) => void): void;
  close(code: number, reason: string): void;
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close' | 'error', fn: () => void): void;
}

/** Bind messages are one short line; anything larger is refused by the ws library (close 1009). */
export const WEBSOCKET_MAX_MESSAGE_BYTES = 4096;

export function websocketRoutes(fhir: FastifyInstance, hub: WebsocketHub): void {
  fhir.get(WEBSOCKET_PATH.replace(/^\/fhir/, ''), { websocket: true }, (raw) => {
    const socket = raw as unknown as WsSocket;
    const connection = hub.connect({
      send: (text) =>
        new Promise<void>((resolve, reject) => {
          socket.send(text, (err) => (err ? reject(err) : resolve()));
        }),
      close: (code, reason) => socket.close(code, closeReason(reason)),
    });
    socket.on('message', (data, isBinary) => {
      connection.message(isBinary ? '' : data.toString('utf8'));
    });
    socket.on('close', () => connection.closed());
    socket.on('error', () => connection.closed());
  });
}

/** RFC 6455 allows 123 bytes of close reason; ws throws beyond that. */
function closeReason(reason: string): string {
  const bytes = Buffer.from(reason, 'utf8');
  return bytes.length <= 123 ? reason : bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '...';
}

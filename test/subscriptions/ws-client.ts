// A websocket test client on the `ws` package (installed with @fastify/websocket; it ships no types,
// so the few members used are declared here). Collects every text message and the close code/reason.
import { createRequire } from 'node:module';
import type { Bundle } from '@medplum/fhirtypes';

interface RawSocket {
  on(event: 'open', fn: () => void): void;
  on(event: 'message', fn: (data: Buffer) => void): void;
  on(event: 'close', fn: (code: number, reason: Buffer) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  send(text: string): void;
  close(): void;
}
type SocketCtor = new (url: string) => RawSocket;

const WebSocketClass = createRequire(import.meta.url)('ws') as SocketCtor;

export interface TestSocket {
  readonly bundles: Bundle[];
  /** Set once the server closed the socket. */
  closedWith: { code: number; reason: string } | undefined;
  send(text: string): void;
  close(): void;
  closed: Promise<{ code: number; reason: string }>;
}

export async function openSocket(url: string): Promise<TestSocket> {
  const raw = new WebSocketClass(url);
  let onClosed!: (v: { code: number; reason: string }) => void;
  const socket: TestSocket = {
    bundles: [],
    closedWith: undefined,
    send: (text) => raw.send(text),
    close: () => raw.close(),
    closed: new Promise((resolve) => (onClosed = resolve)),
  };
  raw.on('message', (data) => socket.bundles.push(JSON.parse(data.toString('utf8')) as Bundle));
  raw.on('close', (code, reason) => {
    socket.closedWith = { code, reason: reason.toString('utf8') };
    onClosed(socket.closedWith);
  });
  await new Promise<void>((resolve, reject) => {
    raw.on('open', resolve);
    raw.on('error', reject);
  });
  return socket;
}

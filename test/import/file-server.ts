// NDJSON inputs for the $import tests: a real HTTP server on 127.0.0.1 serving files from memory. A file
// may stall (headers and part of the body, then nothing) so a job can be caught mid-download.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  body: string;
  status?: number;
  headers?: Record<string, string>;
  /** Sends this much of the body, then holds the response open until the server stops. */
  stallAfter?: number;
}

export class FileServer {
  readonly files = new Map<string, Served>();
  readonly requests: string[] = [];
  private server!: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests.push(req.url ?? '');
      const file = this.files.get(req.url ?? '');
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(file.status ?? 200, { 'content-type': 'application/fhir+ndjson', ...file.headers });
      if (file.stallAfter !== undefined) res.write(file.body.slice(0, file.stallAfter));
      else res.end(file.body);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  url(path: string): string {
    return `http://${this.host}${path}`;
  }

  serve(path: string, lines: readonly unknown[], extra: Omit<Served, 'body'> = {}): string {
    this.files.set(path, { body: lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n', ...extra });
    return this.url(path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

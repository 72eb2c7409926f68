// Downloads a client-named URL into a local file through the outbound guard: the host is checked when
// the download starts (against what it resolves to then), the connection goes to the checked address,
// no redirect is followed (anything but 200 fails), the size is bounded and a silent peer times out.
// The connect step is injectable so tests can record what would be contacted without a packet.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { OutboundRefused, pinnedRequest, type OutboundGuard } from './outbound-guard.js';

export interface DownloadTarget {
  url: URL;
  address: string;
  family: 4 | 6;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Opens the response: its status and, for a 200, the body stream. */
export type DownloadConnector = (target: DownloadTarget) => Promise<{ status: number; body: Readable }>;

export const nodeDownloadConnector: DownloadConnector = (target) =>
  new Promise((resolve, reject) => {
    const request = pinnedRequest(target, 'GET', { accept: 'application/fhir+ndjson, application/ndjson' }, (response) => {
      resolve({ status: response.statusCode ?? 0, body: response });
    });
    request.on('timeout', () => request.destroy(new OutboundRefused(`no data within ${target.timeoutMs} ms`)));
    request.on('error', reject);
    const onAbort = (): void => void request.destroy(new Error('download cancelled'));
    target.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('close', () => target.signal?.removeEventListener('abort', onAbort));
    request.end();
  });

export class FileDownloader {
  constructor(
    private readonly guard: OutboundGuard,
    private readonly options: { maxBytes: number; timeoutMs: number; connector?: DownloadConnector },
  ) {}

  /** Checks url (OutboundRefused when it may not be contacted) and writes its body to path; returns the size. */
  async download(url: string, path: string, signal?: AbortSignal): Promise<number> {
    const parsed = new URL(url);
    const target = await this.guard.check(parsed);
    const connector = this.options.connector ?? nodeDownloadConnector;
    const { status, body } = await connector({ url: parsed, ...target, timeoutMs: this.options.timeoutMs, ...(signal ? { signal } : {}) });
    if (status !== 200) {
      body.resume();
      throw new OutboundRefused(`${parsed.host} answered ${status}${status >= 300 && status < 400 ? '; redirects are not followed' : ''}`);
    }
    let size = 0;
    const max = this.options.maxBytes;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) body.destroy(new OutboundRefused(`input larger than ${max} bytes`));
    });
    await pipeline(body, createWriteStream(path), ...(signal ? [{ signal }] : []));
    return size;
  }
}

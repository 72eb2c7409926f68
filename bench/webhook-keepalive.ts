// Webhook POSTs with and without kept-alive connections (src/net/webhook-post.ts), over http and over
// https, to a receiver on 127.0.0.1 (allow-listed): wall time and this process's CPU per POST. The
// subscriptions benchmark posts over plain http on loopback, where a new connection is nearly free;
// real endpoints are https, where each new connection costs a TLS handshake.
//
//   npx tsx bench/webhook-keepalive.ts [--posts 2000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { OutboundGuard } from '../src/net/outbound-guard.js';
import { keepAlivePostConnector, nodePostConnector, WebhookPoster, type PostConnector } from '../src/net/webhook-post.js';
import { flags } from './args.js';

const args = flags(process.argv.slice(2));
const posts = args.num('posts', 2000, 1, true);
// A throw-away self-signed certificate for the loopback receiver; the client trusts it for this run only.
const dir = mkdtempSync(join(os.tmpdir(), 'concord-ka-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1'], { stdio: 'ignore' });
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const body = JSON.stringify({ resourceType: 'Bundle', type: 'history', entry: Array.from({ length: 10 }, (_, i) => ({ fullUrl: `urn:uuid:${i}` })) });
const answer = (req: IncomingMessage, res: ServerResponse) => req.resume().on('end', () => res.writeHead(200).end());
const servers = [createHttp(answer), createHttps({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, answer)];
const ports = await Promise.all(servers.map((s) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)))));

async function run(label: string, url: string, connector: PostConnector): Promise<void> {
  const guard = new OutboundGuard({ allowedHosts: ports.map((p) => `127.0.0.1:${p}`) });
  const poster = new WebhookPoster(guard, connector);
  for (let i = 0; i < 50; i++) await poster.post(url, {}, body, 5000); // warm-up
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < posts; i++) await poster.post(url, {}, body, 5000);
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  console.log(`${label}: ${(ms / posts).toFixed(3)} ms wall, ${((used.user + used.system) / 1000 / posts).toFixed(3)} ms CPU per POST (${posts} sequential POSTs)`);
}

for (const [scheme, port] of [['http', ports[0]], ['https', ports[1]]] as const) {
  const url = `${scheme}://127.0.0.1:${port}/hook`;
  const kept = keepAlivePostConnector();
  await run(`${scheme}, new connection per POST`, url, nodePostConnector);
  await run(`${scheme}, kept-alive`, url, kept);
  kept.close();
}
console.log(`machine: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const s of servers) {
  s.closeAllConnections();
  s.close();
}
rmSync(dir, { recursive: true, force: true });

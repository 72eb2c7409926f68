// Where an authenticated read spends its access-control time, in process (no HTTP, no database):
// the first use of a token (ES256 signature check, client lookup, scope intersection) against every
// later use (the cached context), and the scope check of a read and of a chained search.
//
//   npx tsx bench/auth-path.ts [--iterations 200000]
import { AccessTokens } from '../src/auth/access-tokens.js';
import { assertAllowed, Authenticator } from '../src/auth/authorize.js';
import type { ClientRegistry, RegisteredClient, SigningKeyStore, StoredSigningKey } from '../src/auth/clients.js';
import { ScopeSet } from '../src/auth/scopes.js';
import { flags } from './args.js';

const f = flags(process.argv.slice(2));
const iterations = f.num('iterations', 200_000, 1000, true);

const keys: StoredSigningKey[] = [];
const store: SigningKeyStore = {
  newest: () => Promise.resolve(keys.at(-1)),
  byKid: (kid) => Promise.resolve(keys.find((k) => k.kid === kid)),
  add: (k) => {
    keys.push(k);
    return Promise.resolve();
  },
};
const client: RegisteredClient = { clientId: 'bench', organization: 'Organization/a', scopes: 'system/*.cruds', enabled: true };
const registry: ClientRegistry = { get: () => Promise.resolve(client), cached: () => client };

const tokens = new AccessTokens(store, 300);
await tokens.init();
const issued = await Promise.all(Array.from({ length: 200 }, () => tokens.issue('bench', 'Organization/a', ScopeSet.parse('system/*.cruds'))));

async function perCall(label: string, n: number, fn: (i: number) => unknown): Promise<string> {
  for (let i = 0; i < Math.min(n, 1000); i++) await fn(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = fn(i);
    if (r instanceof Promise) await r;
  }
  const ns = Number(process.hrtime.bigint() - t) / n;
  return `| ${label} | ${ns >= 1000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`} |`;
}

// First use: a fresh Authenticator per token, so nothing is cached (signature verified each time).
let fresh = 0;
const cold = await perCall('first use of a token on a fresh instance (key import, ES256 verify, client lookup, scopes)', issued.length - 1, () => new Authenticator(new AccessTokens(store, 300), registry).authenticate(`Bearer ${issued[fresh++ % issued.length]!.token}`));
const auth = new Authenticator(tokens, registry);
const header = `Bearer ${issued[0]!.token}`;
const context = await auth.authenticate(header);
const warm = await perCall('later use of the same token (cached context)', iterations, () => auth.authenticate(header));
const read = await perCall('scope check of a read', iterations, () => assertAllowed(context, { interaction: 'read', type: 'Patient' }));
const query = new URLSearchParams('subject:Patient.name=x&_include=Observation:subject:Patient');
const chained = await perCall('scope check of a chained search with _include (parses the reaching parameters)', iterations / 10, () => assertAllowed(context, { interaction: 'search-type', type: 'Observation', query }));

process.stdout.write(['## auth path (in process)', '', '```sh', `npx tsx bench/auth-path.ts --iterations ${iterations}`, '```', '', '| step | per call |', '|---|---|', cold, warm, read, chained, ''].join('\n') + '\n');

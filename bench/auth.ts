// Cost of access control: read-by-id throughput with CONCORD_AUTH=on (bearer token verified and the
// client looked up on every request, scope check, and the read's AuditEvent stored before the answer)
// beside CONCORD_AUTH=off in the same run (with its audit trail on, and off: CONCORD_AUDIT=off), and the
// latency of issuing a token (ES384 client assertion: signature check, jti insert, ES256 signing; and a
// client secret: scrypt).
//
//   npx tsx bench/auth.ts [--duration 10] [--connections 10] [--tokens 200] [--rounds 2]
//
// Three Concord child processes on PostgreSQL (BENCH_DATABASE_URL / DATABASE_URL), each in its own schema
// (dropped afterwards); autocannon and the token loop run in this process.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { hashSecret } from '../src/auth/secrets.js';
import { ClientStore } from '../src/storage/auth-store.js';
import { openPostgres } from '../src/storage/postgres.js';
import { flags } from './args.js';
import { databaseUrlFromEnv, newSchemaName, percentile, postgresVersion, startConcord, type ConcordProcess } from './concord-process.js';

const f = flags(process.argv.slice(2));
const duration = f.num('duration', 10, 1, true);
const connections = f.num('connections', 10, 1, true);
const tokenCount = f.num('tokens', 200, 10, true);
const rounds = f.num('rounds', 5, 1, true);

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The reads run as an organization's client, so each one passes the member visibility check. */
const BENCH_ORG = 'Organization/bench-org';

async function createPatient(base: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${base}/Patient`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', ...headers },
    // Registered by (and so visible to) the benchmark client's organization (docs/adr/0008).
    body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Bench' }], managingOrganization: { reference: BENCH_ORG } }),
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

async function readThroughput(base: string, id: string, headers: Record<string, string>): Promise<{ reqPerSec: number; p50: number; p99: number; non2xx: number }> {
  const url = new URL(base);
  const result = await autocannon({
    url: `${url.origin}`,
    connections,
    duration,
    timeout: 10,
    requests: [{ method: 'GET', path: `/fhir/Patient/${id}`, headers }],
  });
  return { reqPerSec: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const databaseUrl = databaseUrlFromEnv();
  const on = await startConcord({ schema: newSchemaName('bench_auth_on'), rules: 'on', auth: 'on' });
  const off = await startConcord({ schema: newSchemaName('bench_auth_off'), rules: 'on', auth: 'off', audit: 'on' });
  const bare = await startConcord({ schema: newSchemaName('bench_auth_bare'), rules: 'on', auth: 'off', audit: 'off' });
  const servers: ConcordProcess[] = [on, off, bare];
  try {
    // Register the benchmark clients straight into the auth-on schema.
    const db = await openPostgres({ connectionString: databaseUrl, schema: on.schema, max: 1 });
    const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
    const kid = 'bench-key';
    const clients = new ClientStore(db);
    await clients.add({ clientId: 'bench-jwt', organization: BENCH_ORG, scopes: 'system/*.cruds', enabled: true, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384' }] } });
    await clients.add({ clientId: 'bench-secret', scopes: 'system/*.cruds', enabled: true, secretHash: await hashSecret('bench-secret-value') });
    await db.close();

    const tokenUrl = `${on.base.replace(/\/fhir$/, '')}/auth/token`;
    const assertionToken = async (): Promise<string> => {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES384', kid })
        .setIssuer('bench-jwt')
        .setSubject('bench-jwt')
        .setAudience(tokenUrl)
        .setExpirationTime(now + 240)
        .setJti(randomUUID())
        .sign(privateKey);
      const res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.cruds', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }).toString(),
      });
      if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const secretToken = async (): Promise<string> => {
      const res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('bench-secret:bench-secret-value').toString('base64')}` },
        body: 'grant_type=client_credentials&scope=system%2F*.cruds',
      });
      if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    // Token issue latency, sequential (assertion signing on the client side is outside the timed span).
    const timed = async (issue: () => Promise<string>): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < tokenCount; i++) {
        const t = process.hrtime.bigint();
        await issue();
        ms.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      return ms.sort((a, b) => a - b);
    };
    await timed(assertionToken); // warm-up
    const jwtMs = await timed(assertionToken);
    const secretMs = await timed(secretToken);

    const token = await assertionToken();
    const auth = { authorization: `Bearer ${token}` };
    const idOn = await createPatient(on.base, auth);
    const idOff = await createPatient(off.base, {});
    const idBare = await createPatient(bare.base, {});
    await readThroughput(on.base, idOn, auth); // warm-up all three
    await readThroughput(off.base, idOff, {});
    await readThroughput(bare.base, idBare, {});
    type Run = Awaited<ReturnType<typeof readThroughput>>;
    const results: { round: number; on: Run; off: Run; bare: Run }[] = [];
    for (let round = 1; round <= rounds; round++) {
      // Alternating the order of off and on spreads a drift in background load over both.
      const bareRun = await readThroughput(bare.base, idBare, {});
      const offFirst = round % 2 === 1;
      const first = offFirst ? await readThroughput(off.base, idOff, {}) : await readThroughput(on.base, idOn, auth);
      const second = offFirst ? await readThroughput(on.base, idOn, auth) : await readThroughput(off.base, idOff, {});
      const [offRun, onRun] = offFirst ? [first, second] : [second, first];
      results.push({ round, on: onRun, off: offRun, bare: bareRun });
    }
    const pg = await postgresVersion(databaseUrl);
    const lines = [
      `## auth`,
      '',
      '```sh',
      `npx tsx bench/auth.ts --duration ${duration} --connections ${connections} --tokens ${tokenCount} --rounds ${rounds}`,
      '```',
      '',
      `Read-by-id (GET /fhir/Patient/[id], ${connections} connections, ${duration} s per run, rounds run bare, then off/on alternating; PostgreSQL ${pg ?? '?'}, three Concord child processes, autocannon in the parent; auth on reads as a client of ${BENCH_ORG}, the member's managing organization). ` +
        'on = authentication and audit trail on; off = authentication off, audit trail on (anonymous AuditEvents); bare = both off:',
      '',
      '| round | bare req/s | auth off req/s | auth on req/s | on/off | on/bare | bare p50/p99 ms | off p50/p99 ms | on p50/p99 ms | non-2xx |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.round} | ${r.bare.reqPerSec.toFixed(0)} | ${r.off.reqPerSec.toFixed(0)} | ${r.on.reqPerSec.toFixed(0)} | ${((100 * r.on.reqPerSec) / r.off.reqPerSec).toFixed(0)} % | ${((100 * r.on.reqPerSec) / r.bare.reqPerSec).toFixed(0)} % | ${r.bare.p50}/${r.bare.p99} | ${r.off.p50}/${r.off.p99} | ${r.on.p50}/${r.on.p99} | ${r.bare.non2xx + r.off.non2xx + r.on.non2xx} |`,
      ),
      '',
      `Median on/off over the rounds: ${median(results.map((r) => (100 * r.on.reqPerSec) / r.off.reqPerSec)).toFixed(0)} % (the rounds alternate so that load from elsewhere falls on both).`,
      '',
      `Token issue, ${tokenCount} sequential requests each:`,
      '',
      '| client authentication | p50 ms | p95 ms | p99 ms |',
      '|---|---|---|---|',
      `| ES384 assertion (verify, jti insert, ES256 sign) | ${percentile(jwtMs, 50).toFixed(1)} | ${percentile(jwtMs, 95).toFixed(1)} | ${percentile(jwtMs, 99).toFixed(1)} |`,
      `| client secret (scrypt N=2^14) | ${percentile(secretMs, 50).toFixed(1)} | ${percentile(secretMs, 95).toFixed(1)} | ${percentile(secretMs, 99).toFixed(1)} |`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await Promise.all(servers.map((s) => s.close(true)));
  }
}

await main();

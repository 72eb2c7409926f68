// Worst-case bodies against one Concord (in this process, listening on loopback) while the event loop's
// delay is sampled with perf_hooks.monitorEventLoopDelay, /healthz is polled every 20 ms, and RSS is
// sampled every 10 ms. Each input is sent alone, then six at once, to a server with the write workers
// off (WRITE_WORKERS=0: everything on the event loop) and on (the default). The client shares the
// process (it only sends prepared buffers), so the numbers include its small cost.
//
//   npx tsx bench/event-loop.ts [--database-url URL] [--workers off,on]   (default: DATABASE_URL or the local test database)
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { openPostgres } from '../src/storage/postgres.js';
import { databaseUrlFromEnv, newSchemaName } from './concord-process.js';

interface Input {
  name: string;
  /** The resource type posted to, or '' for a Bundle posted to the base. */
  type: string;
  body: Buffer;
}

const MB = 1 << 20;
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

export function worstCaseInputs(): Input[] {
  return [
    { name: 'nested 4 MB string (name[0].given[0])', type: 'Patient', body: json({ resourceType: 'Patient', name: [{ given: ['a'.repeat(4 * MB)] }] }) },
    { name: '150,000 names', type: 'Patient', body: json({ resourceType: 'Patient', name: Array.from({ length: 150_000 }, (_, i) => ({ family: `F${i}` })) }) },
    {
      name: '4 x 1 MB given (accepted)',
      type: 'Patient',
      body: json({ resourceType: 'Patient', name: [{ given: Array.from({ length: 4 }, (_, i) => String(i).repeat(MB - 8)) }] }),
    },
    {
      name: '5,000 lines of 900 chars in 1 address (accepted)',
      type: 'Patient',
      body: json({ resourceType: 'Patient', address: [{ line: Array.from({ length: 5_000 }, (_, i) => `${i}`.padEnd(900, 'x')) }] }),
    },
    { name: '5,000 names (accepted)', type: 'Patient', body: json({ resourceType: 'Patient', name: Array.from({ length: 5_000 }, (_, i) => ({ family: `F${i}`, given: [`G${i}`] })) }) },
    { name: 'decimal-heavy: 10,000 x 1.10 in extensions (accepted)', type: 'Basic', body: Buffer.from(
      `{"resourceType":"Basic","code":{"text":"d"},"extension":[${Array.from({ length: 10_000 }, () => '{"url":"http://e.org/d","valueDecimal":1.10}').join(',')}]}`) },
    {
      name: 'transaction Bundle of 1,000 small Patients (accepted)',
      type: '',
      body: json({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: Array.from({ length: 1_000 }, (_, i) => ({ request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: `B${i}`, given: ['G'] }], birthDate: '1970-01-01' } })),
      }),
    },
  ];
}

interface Measure {
  statuses: number[];
  wallMs: number;
  loopMaxMs: number;
  loopP99Ms: number;
  healthMaxMs: number;
  peakRssMb: number;
}

async function measure(base: string, input: Input, parallel: number): Promise<Measure> {
  global.gc?.();
  const h = monitorEventLoopDelay({ resolution: 10 });
  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
  let healthMax = 0;
  let running = true;
  const poll = (async () => {
    while (running) {
      const t = performance.now();
      await fetch(`${base}/healthz`).then((r) => r.arrayBuffer());
      healthMax = Math.max(healthMax, performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  h.enable();
  const started = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: parallel }, () =>
      fetch(`${base}/fhir${input.type ? `/${input.type}` : ''}`, { method: 'POST', body: input.body, headers: { 'content-type': 'application/fhir+json' } }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      }),
    ),
  );
  const wallMs = performance.now() - started;
  h.disable();
  running = false;
  await poll;
  clearInterval(rssTimer);
  return { statuses, wallMs, loopMaxMs: h.max / 1e6, loopP99Ms: h.percentile(99) / 1e6, healthMaxMs: healthMax, peakRssMb: peakRss / MB };
}

export async function runEventLoopBench(databaseUrl: string, workers: ('off' | 'on')[] = ['off', 'on']): Promise<string> {
  // Both servers run at once and each input goes to one, then the other, so a change in the shared
  // machine's load hits both alike.
  const servers = await Promise.all(workers.map((w) => startServer(databaseUrl, w)));
  const rows: string[] = [];
  try {
    for (const s of servers) {
      // Warm-up: definitions, FHIRPath compilation, connection pool, and the worker thread when on.
      await measure(s.base, { name: 'warm-up', type: 'Patient', body: json({ resourceType: 'Patient', name: [{ family: 'W' }] }) }, 2);
      await measure(s.base, { name: 'warm-up large', type: 'Patient', body: json({ resourceType: 'Patient', name: Array.from({ length: 3_000 }, (_, i) => ({ family: `W${i}` })) }) }, 1);
    }
    for (const input of worstCaseInputs()) {
      for (const parallel of [1, 6]) {
        for (const s of servers) {
          const m = await measure(s.base, input, parallel);
          rows.push(
            `| ${input.name} | ${(input.body.length / MB).toFixed(1)} | ${s.workers} | ${parallel} | ${[...new Set(m.statuses)].join(', ')} | ${m.wallMs.toFixed(0)} | ` +
              `${m.loopMaxMs.toFixed(0)} | ${m.loopP99Ms.toFixed(0)} | ${m.healthMaxMs.toFixed(0)} | ${m.peakRssMb.toFixed(0)} |`,
          );
          console.log(rows.at(-1));
        }
      }
    }
  } finally {
    for (const s of servers) await s.close();
  }
  return [
    '## Event loop and memory under worst-case bodies',
    '',
    '```',
    'npm run bench -- --suite event-loop',
    '# or, without RESULTS.md: npx tsx bench/event-loop.ts [--workers off,on]',
    '```',
    '',
    `Node ${process.version}, PostgreSQL, server and client in one process (loopback). Loop max/p99: perf_hooks.monitorEventLoopDelay`,
    'over the requests; /healthz max: slowest of the health checks polled every 20 ms meanwhile; RSS: process peak',
    '(both servers and the worker thread). Workers off: WRITE_WORKERS=0, every check on the event loop; on: the',
    'default pool (one thread here). The two servers share the process, so each one\'s loop numbers include the other\'s idle cost.',
    '',
    '| input | MB | workers | at once | status | wall ms | loop max ms | loop p99 ms | /healthz max ms | peak RSS MB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

async function startServer(databaseUrl: string, workers: 'off' | 'on'): Promise<{ base: string; workers: string; close(): Promise<void> }> {
  const schema = newSchemaName('bench_loop');
  const db = await openPostgres({ connectionString: databaseUrl, schema });
  const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', HOST: '127.0.0.1', CONCORD_AUTH: 'off', RATE_LIMIT_PER_MINUTE: '0', ...(workers === 'off' ? { WRITE_WORKERS: '0' } : {}) };
  const server = await createServer(loadConfig(env), false, db);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const address = server.app.server.address();
  return {
    base: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    workers,
    async close() {
      await server.close();
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--database-url');
  const url = i > 0 ? process.argv[i + 1]! : databaseUrlFromEnv();
  const w = process.argv.indexOf('--workers');
  const workers = w > 0 ? (process.argv[w + 1]!.split(',') as ('off' | 'on')[]) : undefined;
  runEventLoopBench(url, workers).then((md) => console.log(`\n${md}`), (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

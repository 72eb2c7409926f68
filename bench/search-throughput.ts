// Coordination-search throughput beside a bare fastify route (docs/adr/0013): the seven coordination
// queries of bench/search-scale.ts over HTTP with autocannon, against Concord with named prepared
// statements (PG_PREPARED_STATEMENTS default) and with none (every search planned, as before), and a bare
// fastify GET that serialises a searchset Bundle of the same size.
//   npx tsx bench/search-throughput.ts [--members 300] [--duration 8] [--connections 10] [--rounds 3]
// Both Concord instances serve one schema (loaded once, rules on); one is loaded at a time. Requests
// rotate over (member, query) pairs. Backend CPU: the PostgreSQL processes of that schema's pools.
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { flags } from './args.js';
import { childCpu } from './child-cpu.js';
import { databaseUrlFromEnv, newSchemaName, startConcord, type ConcordProcess } from './concord-process.js';
import { loadDirectory, loadMembers, type MemberRef } from './load-members.js';
import { BackendCpu, median } from './rest-core.js';
import { cpuDelta } from './process-cpu.js';
import { QUERIES } from './search-scale.js';

if (process.argv.includes('--bare-child')) {
  // The bare route: fastify serialises the given Bundle object per request.
  const bundle = JSON.parse(process.argv[process.argv.indexOf('--bare-child') + 1] ?? '{}') as unknown;
  const app = Fastify({ logger: false });
  app.get('/bare/search', () => bundle);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'cpu') process.send?.({ type: 'cpu', ...process.cpuUsage() });
  });
  process.on('disconnect', () => void app.close().finally(() => process.exit(0)));
} else {
  await main();
}

interface Run {
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  cpuPerReq: number;
  backendPerReq: number;
}

async function main(): Promise<void> {
  const f = flags(process.argv.slice(2));
  const membersWanted = f.num('members', 300, 1, true);
  const duration = f.num('duration', 8, 1);
  const connections = f.num('connections', 10, 1, true);
  const rounds = f.num('rounds', 3, 1, true);
  const databaseUrl = databaseUrlFromEnv();
  const schema = newSchemaName('bench_st');
  const log = (m: string): void => void process.stderr.write(`[search-throughput] ${m}\n`);
  const loadBefore = os.loadavg();
  let prepared: ConcordProcess | undefined;
  let unprepared: ConcordProcess | undefined;
  let bare: ReturnType<typeof fork> | undefined;
  const backends = await BackendCpu.open(databaseUrl, `concord_${schema}`);
  try {
    prepared = await startConcord({ schema, rules: 'on', databaseUrl, dropSchemaOnExit: true });
    const directory = await loadDirectory(prepared.base);
    const loaded = await loadMembers({ base: prepared.base, directory, startAt: 0, members: membersWanted, concurrency: 4, membersPerBundle: 10, maxSeconds: 600 });
    if (loaded.failures > 0) throw new Error(`load failed: ${loaded.errors.join('; ')}`);
    const members: MemberRef[] = loaded.loaded;
    log(`${members.length} members loaded (${loaded.resources} resources)`);
    unprepared = await startConcord({ schema, rules: 'on', databaseUrl, dropSchemaOnExit: false, preparedStatements: 0 });
    const paths = members.flatMap((m) => QUERIES.map((q) => `/fhir/${q.type}?${new URLSearchParams(q.params(m)).toString()}`));
    // The bare route serves the Bundle of a first-query response (the most common shape).
    const sample = (await (await fetch(`http://127.0.0.1:${prepared.port}${paths[0]!}`)).json());
    bare = fork(fileURLToPath(import.meta.url), ['--bare-child', JSON.stringify(sample)], { execArgv: ['--import', import.meta.resolve('tsx')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const barePort = await new Promise<number>((resolve) => bare!.once('message', (m: { port: number }) => resolve(m.port)));
    const bareChild = bare;
    const p = prepared;
    const u = unprepared;
    const targets: { name: string; port: number; rotate: boolean; cpu: () => Promise<number> }[] = [
      { name: 'bare fastify GET (same Bundle, serialised per request)', port: barePort, rotate: false, cpu: () => childCpu(bareChild, 'bare child') },
      { name: 'Concord, prepared statements (PG_PREPARED_STATEMENTS=200)', port: p.port, rotate: true, cpu: () => p.cpu() },
      { name: 'Concord, no prepared statements (PG_PREPARED_STATEMENTS=0: planned per request)', port: u.port, rotate: true, cpu: () => u.cpu() },
    ];
    const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
    const measure = async (t: (typeof targets)[number], seconds: number): Promise<Run> => {
      let i = 0;
      const cpu0 = await t.cpu();
      const b0 = await backends?.snapshot();
      const r = await autocannon({
        url: `http://127.0.0.1:${t.port}`,
        connections,
        duration: seconds,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: t.rotate ? paths[i++ % paths.length]! : '/bare/search' }) }],
      });
      const cpu = (await t.cpu()) - cpu0;
      const b1 = await backends?.snapshot();
      const n = r.requests.total;
      return {
        reqPerSec: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
        cpuPerReq: cpu / n,
        backendPerReq: b0 && b1 ? cpuDelta(b0, b1) / n : Number.NaN,
      };
    };
    for (const t of targets) await measure(t, 3); // warm-up: JIT, caches, and the statements prepared
    for (let round = 0; round < rounds; round++) {
      for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
        const r = await measure(t, duration);
        runs.get(t.name)!.push(r);
        log(`round ${round + 1}: ${t.name}: ${r.reqPerSec.toFixed(0)} req/s, server CPU ${r.cpuPerReq.toFixed(0)} µs, backend ${r.backendPerReq.toFixed(0)} µs`);
      }
    }
    const bareRate = median(runs.get(targets[0]!.name)!.map((r) => r.reqPerSec));
    const out = [
      `Coordination searches over HTTP: ${members.length} members (${loaded.resources} member resources, rules on), the ${QUERIES.length} queries of search-scale rotating over them; ` +
        `${connections} connections, ${duration} s per measurement, ${rounds} rounds interleaved, medians. Load average before ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}.`,
      '',
      '| target | req/s (median) | of bare | p50 ms | p99 ms | server CPU µs/req | PostgreSQL backend CPU µs/req | req/s of each round | non-2xx / errors |',
      '|---|---:|---:|---:|---:|---:|---:|---|---|',
      ...targets.map((t) => {
        const rs = runs.get(t.name)!;
        const m = (g: (r: Run) => number): number => median(rs.map(g));
        return `| ${t.name} | ${m((r) => r.reqPerSec).toFixed(0)} | ${((100 * m((r) => r.reqPerSec)) / bareRate).toFixed(1)} % | ${m((r) => r.p50)} | ${m((r) => r.p99)} | ${m((r) => r.cpuPerReq).toFixed(0)} | ${t.rotate ? m((r) => r.backendPerReq).toFixed(0) : '—'} | ${rs.map((r) => r.reqPerSec.toFixed(0)).join(', ')} | ${rs.reduce((a, r) => a + r.non2xx, 0)} / ${rs.reduce((a, r) => a + r.errors, 0)} |`;
      }),
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await backends?.close();
    bare?.disconnect();
    if (unprepared) await unprepared.close(false);
    if (prepared) await prepared.close(true);
  }
}

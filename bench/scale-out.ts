// Scale-out: one Concord instance alone, then the same instance loaded while two more run idle on the
// same PostgreSQL schema ("1 of 3": what being one of several costs an instance), then all three with the
// load spread round-robin, for reads by id, Patient creates and rule-checked CareTeam creates; plus
// read-after-write across instances (update on one, read at once on the next: how many reads return the
// old version).
//
//   npx tsx bench/scale-out.ts [--statements] [--separate] [--read-cache-with-peers database|sync] [--seconds 8] [--warmup 3] [--concurrency 12] [--members 6000] [--raw 500]
//
// Each set of instances first runs every load for --warmup seconds, unmeasured: the two instances started
// for the second set would otherwise be measured with cold JITs and caches. CareTeam creates take a
// seeded member each, warm-ups included: --members must cover them.
//
// Instances are child processes (bench/concord-child.ts, rules on, pool 20 each). The load generator is
// this process (fetch workers). On a 2-core machine three instances, PostgreSQL and the load generator
// share two cores: the comparison shows the cost of coordination between instances (the shared
// database, the read-after-write fence of docs/adr/0016), not the gain more cores would give. What shows
// whether more cores would be used is the CPU each request costs, all parties counted (the instances,
// every PostgreSQL process, the load generator): if three instances cost no more per request than one,
// nothing between them serialises the work, and throughput follows the cores given to them.
import type { Reference } from '@medplum/fhirtypes';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pathToFileURL } from 'node:url';
import { benchPatient } from './fixtures.js';
import { flags } from './args.js';
import { cpuDelta, postgresCpuUs } from './process-cpu.js';
import { analyzeSchema, databaseUrlFromEnv, dropSchema, newSchemaName, percentile, postgresVersion, startConcord, type ConcordProcess } from './concord-process.js';
import { loadDirectory } from './load-members.js';
import { hhTeam, seedMembers, type Ctx } from './rules-cost.js';

interface Options {
  /** READ_CACHE_WITH_PEERS of every instance (unset: the server's default). */
  readCacheWithPeers?: 'sync' | 'database';
  /** Count each instance's statements by SQL text and report the ones sent per request. */
  statements: boolean;
  /** Also three instances on separate schemas (nothing shared but the PostgreSQL server), Patient creates. */
  separate: boolean;
  seconds: number;
  warmup: number;
  concurrency: number;
  members: number;
  raw: number;
  databaseUrl: string;
}

interface Phase {
  kind: 'read' | 'create Patient' | 'create CareTeam (rules on)';
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU per completed request, µs: the Concord instances, PostgreSQL (all its processes), this process. */
  cpu: { concord: number; postgres: number; loadGenerator: number };
  /** Transactions committed in the database per completed request (pg_stat_database), all instances. */
  commits: number;
  /** --statements: statements per completed request by SQL text (their first 60 characters), all instances. */
  statements?: Array<[string, number]>;
  errors: number;
  errorExample?: string;
}

const log = (m: string): void => void process.stderr.write(`[scale-out ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

async function drive(name: Phase['kind'], procs: ConcordProcess[], o: Options, request: (i: number) => { url: string; init: RequestInit; ok: number }): Promise<Phase> {
  const bases = procs.map((p) => p.base);
  const concordCpu = async (): Promise<number> => (await Promise.all(procs.map((p) => p.cpu()))).reduce((a, b) => a + b, 0);
  const sent = async (): Promise<Map<string, number>> => {
    const total = new Map<string, number>();
    if (!o.statements) return total;
    for (const counts of await Promise.all(procs.map((p) => p.statements()))) {
      for (const [text, n] of Object.entries(counts)) {
        const key = text.replace(/\s+/g, ' ').trim().slice(0, 60);
        total.set(key, (total.get(key) ?? 0) + n);
      }
    }
    return total;
  };
  const sentBefore = await sent();
  const commitsBefore = await committed(o.databaseUrl);
  const cpuBefore = { concord: await concordCpu(), postgres: postgresCpuUs(), self: process.cpuUsage() };
  const latencies: number[] = [];
  const errors: string[] = [];
  let issued = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while ((performance.now() - started) / 1000 < o.seconds) {
      const n = issued++;
      const { url, init, ok } = request(n);
      const t0 = performance.now();
      try {
        const res = await fetch(`${bases[n % bases.length]!}${url}`, { ...init, signal: AbortSignal.timeout(30_000) });
        const text = await res.text();
        if (res.status === ok) latencies.push(performance.now() - t0);
        else errors.push(`HTTP ${res.status} ${text.slice(0, 200)}`);
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
  const seconds = (performance.now() - started) / 1000;
  const self = process.cpuUsage(cpuBefore.self);
  const done = Math.max(1, latencies.length);
  const cpu = {
    concord: ((await concordCpu()) - cpuBefore.concord) / done,
    postgres: cpuDelta(cpuBefore.postgres, postgresCpuUs()) / done,
    loadGenerator: (self.user + self.system) / done,
  };
  const commits = ((await committed(o.databaseUrl)) - commitsBefore) / done;
  const statements = o.statements
    ? [...(await sent())]
        .map(([text, n]): [string, number] => [text, (n - (sentBefore.get(text) ?? 0)) / done])
        .filter(([, n]) => n >= 0.01)
        .sort((a, b) => b[1] - a[1])
    : undefined;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    kind: name,
    perSecond: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpu,
    commits,
    ...(statements ? { statements } : {}),
    errors: errors.length,
    ...(errors[0] ? { errorExample: errors[0] } : {}),
  };
}

/**
 * Transactions committed in this database so far. Backends report their counts at most once a second,
 * so it waits that long first: the phase before has reported by then, and nothing runs meanwhile.
 */
async function committed(databaseUrl: string): Promise<number> {
  await sleep(1200);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const res = await client.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()');
    return Number(res.rows[0]?.n ?? Number.NaN);
  } finally {
    await client.end();
  }
}

const JSON_HEADERS = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };

const createPatient = (i: number): { url: string; init: RequestInit; ok: number } => ({
  url: '/Patient',
  init: { method: 'POST', headers: { ...JSON_HEADERS, prefer: 'return=minimal' }, body: JSON.stringify(benchPatient(i)) },
  ok: 201,
});

/**
 * --separate: three instances that share nothing but the PostgreSQL server (a schema each, so each one is
 * alone: no fence, no change notification reaches another), Patient creates spread over them. What three
 * processes on these cores cost per request by themselves, apart from what sharing a schema costs.
 */
async function separateInstances(o: Options): Promise<Phase> {
  const procs: ConcordProcess[] = [];
  try {
    // Each one is alone: READ_CACHE_WITH_PEERS does not apply.
    for (let i = 0; i < 3; i++) procs.push(await startConcord({ schema: newSchemaName('bench_scale_sep'), rules: 'on', databaseUrl: o.databaseUrl }));
    if (o.warmup > 0) await drive('create Patient', procs, { ...o, seconds: o.warmup }, createPatient);
    return await drive('create Patient', procs, o, createPatient);
  } finally {
    for (const p of procs) await p.close(true);
  }
}

async function phases(procs: ConcordProcess[], o: Options, readIds: string[], teamMembers: string[], cursor: { next: number }, ctx: Ctx): Promise<Phase[]> {
  const out: Phase[] = [];
  out.push(await drive('read', procs, o, (i) => ({ url: `/Patient/${readIds[i % readIds.length]!}`, init: { headers: JSON_HEADERS }, ok: 200 })));
  out.push(await drive('create Patient', procs, o, createPatient));
  out.push(
    await drive('create CareTeam (rules on)', procs, o, () => {
      const member = teamMembers[cursor.next++];
      if (!member) throw new Error('CareTeam member pool exhausted: raise --members');
      const subject = { reference: `Patient/${member}` } as Reference<never>;
      return { url: '/CareTeam', init: { method: 'POST', headers: { ...JSON_HEADERS, prefer: 'return=minimal' }, body: JSON.stringify(hhTeam(subject, ctx, '2026-01-01')) }, ok: 201 };
    }),
  );
  return out;
}

/** Update on instance k, read at once on instance k+1: reads that return the previous version. */
async function readAfterWrite(bases: string[], n: number): Promise<{ reads: number; stale: number }> {
  const url = (b: string) => `${b}/Patient/raw-after-write`;
  await fetch(url(bases[0]!), { method: 'PUT', headers: JSON_HEADERS, body: JSON.stringify({ resourceType: 'Patient', id: 'raw-after-write' }) });
  let stale = 0;
  for (let k = 0; k < n; k++) {
    for (const b of bases) await (await fetch(url(b), { headers: JSON_HEADERS })).text(); // cached everywhere
    const put = await fetch(url(bases[k % bases.length]!), { method: 'PUT', headers: JSON_HEADERS, body: JSON.stringify({ resourceType: 'Patient', id: 'raw-after-write', multipleBirthInteger: k + 1 }) });
    const version = ((await put.json()) as { meta: { versionId: string } }).meta.versionId;
    const read = (await (await fetch(url(bases[(k + 1) % bases.length]!), { headers: JSON_HEADERS })).json()) as { meta: { versionId: string } };
    if (read.meta.versionId !== version) stale++;
  }
  return { reads: n, stale };
}

export async function runScaleOut(o: Options): Promise<string> {
  const schema = newSchemaName('bench_scale');
  const peers = o.readCacheWithPeers ? { env: { READ_CACHE_WITH_PEERS: o.readCacheWithPeers } } : {};
  const first = await startConcord({ schema, rules: 'on', databaseUrl: o.databaseUrl, dropSchemaOnExit: false, countStatements: o.statements, ...peers });
  const extra: ConcordProcess[] = [];
  try {
    const dir = await loadDirectory(first.base);
    const ctx: Ctx = { hh: { reference: `Organization/${dir.healthHomes[0]!}` }, hhRole: { reference: `PractitionerRole/${dir.hhRoles[0]![0]!}` } };
    log(`seeding ${o.members} members`);
    const members = await seedMembers(first.base, 0, o.members, 1, 20, ctx);
    await analyzeSchema(o.databaseUrl, schema);
    const readIds = members.slice(0, 1000);
    const cursor = { next: 1000 };
    log('one instance');
    if (o.warmup > 0) await phases([first], { ...o, seconds: o.warmup }, readIds, members, cursor, ctx);
    const one = await phases([first], o, readIds, members, cursor, ctx);
    const rawOne = await readAfterWrite([first.base], o.raw);
    for (let i = 0; i < 2; i++) extra.push(await startConcord({ schema, rules: 'on', databaseUrl: o.databaseUrl, dropSchemaOnExit: false, countStatements: o.statements, ...peers }));
    const bases = [first.base, ...extra.map((e) => e.base)];
    // The same instance loaded alone while the two others run idle: what being one of several costs it
    // (the read fence, the shared change channel), apart from what spreading the load costs.
    log('one instance loaded, two idle');
    if (o.warmup > 0) await phases([first], { ...o, seconds: o.warmup }, readIds, members, cursor, ctx);
    const oneOfThree = await phases([first], o, readIds, members, cursor, ctx);
    log('three instances');
    if (o.warmup > 0) await phases([first, ...extra], { ...o, seconds: o.warmup }, readIds, members, cursor, ctx);
    const three = await phases([first, ...extra], o, readIds, members, cursor, ctx);
    const rawThree = await readAfterWrite(bases, o.raw);
    let separate: Phase | undefined;
    if (o.separate) {
      // Their listeners would be woken by the separate instances' notifications (PostgreSQL 15 signals
      // every listener of the database): stopped first (closing again in finally does nothing).
      for (const e of [...extra, first]) await e.close(false);
      log('three instances on separate schemas');
      separate = await separateInstances(o);
    }
    const pgVersion = await postgresVersion(o.databaseUrl);
    // Each set's phases under the name the report gives it ("1 of 3" ran on one instance, as "1" did).
    const sets: Array<[string, Phase[]]> = [
      ['1 instance', one],
      ['1 of 3 loaded', oneOfThree],
      ['3 instances', three],
    ];
    const rate = (p: Phase): string => `${p.perSecond.toFixed(0)} (p50 ${p.p50.toFixed(1)} / p99 ${p.p99.toFixed(1)} ms)`;
    const rows = one.map((p, i) => {
      const m = oneOfThree[i]!;
      const q = three[i]!;
      return `| ${p.kind} | ${rate(p)} | ${rate(m)} | ${rate(q)} | ${((100 * q.perSecond) / p.perSecond).toFixed(0)} % | ${p.errors} / ${m.errors} / ${q.errors} |`;
    });
    const total = (c: Phase['cpu']): number => c.concord + c.postgres + c.loadGenerator;
    const parts = (c: Phase['cpu']): string => `${total(c).toFixed(0)} (${c.concord.toFixed(0)} + ${c.postgres.toFixed(0)} + ${c.loadGenerator.toFixed(0)})`;
    const cpuRows = one.map((p, i) => {
      const m = oneOfThree[i]!;
      const q = three[i]!;
      return `| ${p.kind} | ${parts(p.cpu)} | ${parts(m.cpu)} | ${parts(q.cpu)} | ${((100 * total(q.cpu)) / total(p.cpu)).toFixed(0)} % | ${p.commits.toFixed(2)} / ${m.commits.toFixed(2)} / ${q.commits.toFixed(2)} |`;
    });
    return [
      '## Scale-out: one instance vs three on one PostgreSQL',
      '',
      `\`npx tsx bench/scale-out.ts${o.separate ? ' --separate' : ''}${o.readCacheWithPeers ? ` --read-cache-with-peers ${o.readCacheWithPeers}` : ''} --seconds ${o.seconds} --warmup ${o.warmup} --concurrency ${o.concurrency} --members ${o.members} --raw ${o.raw}\` on ${os.cpus().length} cores, PostgreSQL ${pgVersion ?? '?'}, Node ${process.version}, load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.`,
      `${o.concurrency} client connections in all, spread round-robin over the instances; rules on; ${o.members} seeded members (Patient, Health Home enrolment, one CareTeam, one ServiceRequest).`,
      '"1 of 3": the first instance takes all the load while the two others run idle on the same schema.',
      '',
      '| load | 1 instance: per s (latency) | 1 of 3 loaded | 3 instances | 3 vs 1 | errors 1 / 1 of 3 / 3 |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      'CPU per request, µs: all of it (the Concord instances + every PostgreSQL process + the load generator). Equal per-request CPU means the instances add no work for each other: with the cores to run them, throughput follows the instances.',
      "Commits per request (pg_stat_database) leave out most of the listening connections' own transactions (each NOTIFY makes a listener read the queue in one): a backend reports them only when it next runs a statement of its own.",
      '',
      '| load | 1 instance | 1 of 3 loaded | 3 instances | 3 vs 1 | commits per request, 1 / 1 of 3 / 3 |',
      '|---|---|---|---|---|---|',
      ...cpuRows,
      '',
      ...(separate
        ? [
            `Three instances on separate schemas (nothing shared but the PostgreSQL server; each alone), Patient creates: ${separate.perSecond.toFixed(0)} per s, CPU ${parts(separate.cpu)} µs per request, ${separate.commits.toFixed(2)} commits per request, ${separate.errors} errors.`,
            '',
          ]
        : []),
      `Read-after-write (update on one instance, read at once on the next): 1 instance ${rawOne.stale} stale of ${rawOne.reads}; 3 instances ${rawThree.stale} stale of ${rawThree.reads}.`,
      ...sets.flatMap(([set, phasesOfSet]) =>
        phasesOfSet.flatMap((p) => (p.statements ? [``, `Statements per request, ${p.kind}, ${set}: ${p.statements.map(([t, n]) => `${n.toFixed(2)} × \`${t}\``).join('; ')}`] : [])),
      ),
      ...sets.flatMap(([set, phasesOfSet]) => phasesOfSet.filter((p) => p.errorExample).map((p) => `- ${p.kind}, ${set}: ${p.errors} errors, e.g. ${p.errorExample ?? ''}`)),
    ].join('\n');
  } finally {
    for (const e of extra) await e.close(false);
    await first.close(false);
    await dropSchema(o.databaseUrl, schema);
  }
}

function readCacheWithPeers(value: string | undefined): Pick<Options, 'readCacheWithPeers'> {
  if (value === undefined) return {};
  if (value !== 'sync' && value !== 'database') throw new Error(`--read-cache-with-peers must be database or sync, got '${value}'`);
  return { readCacheWithPeers: value };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const f = flags(process.argv.slice(2));
  const o: Options = {
    statements: process.argv.includes('--statements'),
    separate: process.argv.includes('--separate'),
    ...readCacheWithPeers(f.value('read-cache-with-peers')),
    seconds: f.num('seconds', 8, 1),
    warmup: f.num('warmup', 3, 0),
    concurrency: f.num('concurrency', 12, 1, true),
    members: f.num('members', 6000, 100, true),
    raw: f.num('raw', 500, 1, true),
    databaseUrl: databaseUrlFromEnv(),
  };
  console.log(await runScaleOut(o));
}

// Search at scale: loads coordination-shaped members (bench/load-members.ts) into Concord on PostgreSQL
// through transaction Bundles, and measures the coordination queries over HTTP at ~10K stored resources,
// at a checkpoint and at the largest size reached (target 1M), with EXPLAIN (ANALYZE, BUFFERS) of the
// SQL each query runs.
//
//   npx tsx bench/search-scale.ts [--target 1000000] [--small 10000] [--checkpoints 100000]
//        [--load-minutes 40] [--samples 600] [--warmup 40] [--query-concurrency 2]
//        [--load-concurrency 6] [--members-per-bundle 10] [--json FILE] [--from-json FILE]
//
// Phases: 1. Concord with the coordination rules ON: directory + members up to --small resources, one
//   member per Bundle (the rules-on load rate). 2. Concord restarted on the same schema with
//   CONCORD_RULES=off (identical for every measurement; the rules do not touch reads): ANALYZE, queries,
//   EXPLAIN. 3. Bulk load with the rules off, --members-per-bundle members per Bundle, until each
//   checkpoint / the target or until --load-minutes of loading have passed; ANALYZE, queries, EXPLAIN at
//   each. The schema is dropped at the end. The raw report is written as JSON (--json, default in the OS
//   temp dir) before the markdown, so `--from-json` can re-render it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { parseSearchRequest } from '../src/fhir/search/index.js';
import type { Queryable } from '../src/storage/database.js';
import { openPostgres } from '../src/storage/postgres.js';
import { executeSearch } from '../src/storage/search/index.js';
import { analyzeSchema, databaseUrlFromEnv, dropSchema, newSchemaName, percentile, postgresVersion, startConcord, type ConcordProcess } from './concord-process.js';
import { formatProgress, loadDirectory, loadMembers, RESOURCES_PER_MEMBER, SERVICES, type Directory, type LoadResult, type MemberRef } from './load-members.js';
import { flags } from './args.js';

export interface SearchScaleOptions {
  target: number;
  small: number;
  checkpoints: number[];
  loadMinutes: number;
  samples: number;
  warmup: number;
  queryConcurrency: number;
  loadConcurrency: number;
  membersPerBundle: number;
  /** Coordination rules during the bulk load (and hence for every measurement). */
  bulkRules: 'on' | 'off';
  /** Direct executeSearch calls per query and stage (storage-only latency). */
  storageSamples: number;
  databaseUrl: string;
  json: string;
}

// ---- the coordination queries -----------------------------------------------------------------------------

const CARE_PLAN_CATEGORY = 'https://concord-fhir.org/fhir/CodeSystem/care-plan-category|comprehensive';
const HCPCS = SERVICES.personalCare.coding?.[0]?.system ?? '';
const CONSENT_SCOPE = 'http://terminology.hl7.org/CodeSystem/consentscope|patient-privacy';
const RELEASE_CATEGORY = 'http://loinc.org|64292-6';

interface QueryKind {
  name: string;
  type: string;
  params(m: MemberRef): [string, string][];
  /** Matches expected for a member of the generator (for the sanity check). */
  expectMatches: number;
  expectIncludes: number;
  note?: string;
}

export const QUERIES: QueryKind[] = [
  {
    name: 'CareTeam?patient&status&participant',
    type: 'CareTeam',
    params: (m) => [['patient', `Patient/${m.patient}`], ['status', 'active'], ['participant', `PractitionerRole/${m.leadRole}`]],
    expectMatches: 1,
    expectIncludes: 0,
  },
  {
    name: 'CarePlan?subject&category&status&date',
    type: 'CarePlan',
    params: (m) => [['subject', `Patient/${m.patient}`], ['category', CARE_PLAN_CATEGORY], ['status', 'active'], ['date', 'ge2026-01-01']],
    expectMatches: 1,
    expectIncludes: 0,
  },
  {
    name: 'ServiceRequest?patient&code&status&occurrence&requester',
    type: 'ServiceRequest',
    params: (m) => [
      ['patient', `Patient/${m.patient}`],
      ['code', `${HCPCS}|T1019`],
      ['status', 'active'],
      ['occurrence', 'ge2026-11-01'],
      ['requester', `PractitionerRole/${m.leadRole}`],
    ],
    expectMatches: 1,
    expectIncludes: 0,
  },
  {
    name: 'Consent?patient&status&scope&category&actor',
    type: 'Consent',
    params: (m) => [['patient', `Patient/${m.patient}`], ['status', 'active'], ['scope', CONSENT_SCOPE], ['category', RELEASE_CATEGORY], ['actor', `Organization/${m.healthHome}`]],
    expectMatches: 1,
    expectIncludes: 0,
  },
  {
    name: 'CareTeam?patient&_include=CareTeam:participant',
    type: 'CareTeam',
    params: (m) => [['patient', `Patient/${m.patient}`], ['_include', 'CareTeam:participant']],
    expectMatches: 2,
    expectIncludes: 2,
  },
  {
    name: 'CarePlan?subject&category&status&_revinclude=CarePlan:care-team',
    type: 'CarePlan',
    params: (m) => [['subject', `Patient/${m.patient}`], ['category', CARE_PLAN_CATEGORY], ['status', 'active'], ['_revinclude', 'CarePlan:care-team']],
    expectMatches: 1,
    expectIncludes: 0,
    note: 'as written in the issue; CarePlan:care-team points at CareTeams, so no CarePlan is revincluded (the revinclude query still runs)',
  },
  {
    name: 'CareTeam?patient&status&_revinclude=CarePlan:care-team',
    type: 'CareTeam',
    params: (m) => [['patient', `Patient/${m.patient}`], ['status', 'active'], ['_revinclude', 'CarePlan:care-team']],
    expectMatches: 2,
    expectIncludes: 1,
    note: 'the useful form of the revinclude: the member\'s teams and the plan that names them',
  },
];

// ---- measurement ---------------------------------------------------------------------------------------

export interface QueryStats {
  name: string;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
  errors: number;
  errorExamples: string[];
  /** Samples whose match / include counts differed from what the generator loaded. */
  unexpected: number;
  bytesMean: number;
}

export interface PlanCapture {
  query: string;
  statements: { sql: string; params: unknown[]; plan: string; indexes: string[]; seqScans: string[]; executionMs: number; planningMs: number }[];
}

export interface StorageStats {
  name: string;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface Stage {
  label: string;
  /** executeSearch called directly (no HTTP, no Bundle rendering): the storage layer's share. */
  storage?: StorageStats[];
  storedResources: number;
  members: number;
  schemaBytes: number;
  at: string;
  loadAverage: number[];
  seconds: number;
  queries: QueryStats[];
  plans: PlanCapture[];
  /** The ~10K reference store, measured interleaved with this stage's store in the same time window. */
  reference?: { storedResources: number; queries: QueryStats[]; storage: StorageStats[] };
}

export interface LoadPhase {
  label: string;
  rules: 'on' | 'off';
  membersPerBundle: number;
  concurrency: number;
  members: number;
  resources: number;
  seconds: number;
  resourcesPerSecond: number;
  bundleP50: number;
  bundleP95: number;
  failures: number;
  errors: string[];
  stoppedBy: string;
}

export interface SearchScaleReport {
  options: SearchScaleOptions;
  startedAt: string;
  finishedAt: string;
  postgresVersion?: string;
  loadBefore: number[];
  loadAfter: number[];
  schema: string;
  referenceSchema: string;
  directoryResources: number;
  loads: LoadPhase[];
  stages: Stage[];
  notes: string[];
}

function log(message: string): void {
  process.stderr.write(`[search-scale ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const pick = <T>(a: T[]): T => a[Math.floor(Math.random() * a.length)]!;

async function timedQuery(base: string, q: QueryKind, m: MemberRef): Promise<{ ms: number; ok: boolean; error?: string; unexpected: boolean; bytes: number }> {
  const qs = new URLSearchParams(q.params(m)).toString();
  const t0 = performance.now();
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${base}/${q.type}?${qs}`, { headers: { accept: 'application/fhir+json' }, signal: AbortSignal.timeout(30_000) });
    text = await res.text();
  } catch (err) {
    return { ms: performance.now() - t0, ok: false, error: err instanceof Error ? err.message : String(err), unexpected: false, bytes: 0 };
  }
  const ms = performance.now() - t0;
  if (res.status !== 200) return { ms, ok: false, error: `HTTP ${res.status} ${text.slice(0, 200)}`, unexpected: false, bytes: text.length };
  const bundle = JSON.parse(text) as { entry?: { search?: { mode?: string } }[] };
  const matches = (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').length;
  const includes = (bundle.entry ?? []).filter((e) => e.search?.mode === 'include').length;
  return { ms, ok: true, unexpected: matches !== q.expectMatches || includes !== q.expectIncludes, bytes: text.length };
}

export interface Target {
  base: string;
  schema: string;
  members: MemberRef[];
}

/**
 * Every query kind against every target (the growing store and the ~10K reference store), all
 * interleaved in one random order, with a random loaded member of that target per request: both stores
 * are measured in the same time window, so machine noise hits both alike.
 */
async function measureQueries(targets: Target[], o: SearchScaleOptions, maxSeconds: number): Promise<QueryStats[][]> {
  type Acc = { ms: number[]; errors: string[]; unexpected: number; bytes: number };
  const runTasks = async (perKind: number, record: boolean): Promise<Map<string, Acc>> => {
    const tasks = shuffle(targets.flatMap((t, ti) => QUERIES.flatMap((q) => Array.from({ length: perKind }, () => ({ t, ti, q })))));
    const out = new Map<string, Acc>();
    for (let ti = 0; ti < targets.length; ti++) for (const q of QUERIES) out.set(`${ti}|${q.name}`, { ms: [], errors: [], unexpected: 0, bytes: 0 });
    let i = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (i < tasks.length && (performance.now() - started) / 1000 < maxSeconds) {
        const { t, ti, q } = tasks[i++]!;
        const r = await timedQuery(t.base, q, pick(t.members));
        if (!record) continue;
        const s = out.get(`${ti}|${q.name}`)!;
        if (r.ok) s.ms.push(r.ms);
        else s.errors.push(r.error ?? 'error');
        if (r.unexpected) s.unexpected++;
        s.bytes += r.bytes;
      }
    };
    await Promise.all(Array.from({ length: o.queryConcurrency }, () => worker()));
    return out;
  };
  await runTasks(o.warmup, false);
  const raw = await runTasks(o.samples, true);
  return targets.map((_, ti) =>
    QUERIES.map((q) => {
      const s = raw.get(`${ti}|${q.name}`)!;
      const sorted = [...s.ms].sort((x, y) => x - y);
      const n = sorted.length;
      return {
        name: q.name,
        samples: n,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        mean: n > 0 ? sorted.reduce((x, y) => x + y, 0) / n : Number.NaN,
        max: sorted[n - 1] ?? Number.NaN,
        errors: s.errors.length,
        errorExamples: [...new Set(s.errors)].slice(0, 3),
        unexpected: s.unexpected,
        bytesMean: n + s.errors.length > 0 ? Math.round(s.bytes / (n + s.errors.length)) : 0,
      };
    }),
  );
}

/**
 * The SQL of each query, captured by running the search layer itself (parseSearchRequest +
 * executeSearch, exactly what the HTTP route calls) through a recording Queryable, then each
 * statement under EXPLAIN (ANALYZE, BUFFERS) with the same parameters.
 */
async function capturePlans(databaseUrl: string, schema: string, members: MemberRef[]): Promise<PlanCapture[]> {
  loadDefinitions();
  const db = await openPostgres({ connectionString: databaseUrl, schema, max: 2 });
  try {
    const out: PlanCapture[] = [];
    for (const q of QUERIES) {
      const captured: { sql: string; params: unknown[] }[] = [];
      const recorder: Queryable = {
        query: (sql, params, options) => {
          captured.push({ sql, params: params ?? [] });
          return db.query(sql, params, options);
        },
        exec: (sql) => db.exec(sql),
      };
      const { request } = parseSearchRequest(q.type, q.params(pick(members)), { strict: true, maxCount: 1000, defaultCount: 20 });
      await executeSearch(recorder, request);
      const statements: PlanCapture['statements'] = [];
      for (const c of captured) {
        const res = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${c.sql}`, c.params);
        const plan = res.rows.map((r) => r['QUERY PLAN']).join('\n');
        const indexes = [...new Set([...plan.matchAll(/(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)/g)].map((m) => m[1]!))];
        const seqScans = [...new Set([...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]!))];
        const exec = /Execution Time: ([\d.]+) ms/.exec(plan);
        const planning = /Planning Time: ([\d.]+) ms/.exec(plan);
        statements.push({ sql: c.sql, params: c.params, plan, indexes, seqScans, executionMs: exec ? Number(exec[1]) : Number.NaN, planningMs: planning ? Number(planning[1]) : Number.NaN });
      }
      out.push({ query: q.name, statements });
    }
    return out;
  } finally {
    await db.close();
  }
}

/** executeSearch on a connection of its own per target, random member per call, targets and kinds interleaved. */
async function measureStorage(databaseUrl: string, targets: Target[], samples: number): Promise<StorageStats[][]> {
  loadDefinitions();
  const dbs = await Promise.all(targets.map((t) => openPostgres({ connectionString: databaseUrl, schema: t.schema, max: 1 })));
  try {
    const ms = new Map<string, number[]>();
    for (let ti = 0; ti < targets.length; ti++) for (const q of QUERIES) ms.set(`${ti}|${q.name}`, []);
    const started = performance.now();
    const tasks = shuffle(targets.flatMap((t, ti) => QUERIES.flatMap((q) => Array.from({ length: samples + 10 }, (_, i) => ({ t, ti, q, warm: i < 10 })))));
    for (const { t, ti, q, warm } of tasks) {
      if ((performance.now() - started) / 1000 > 300) break;
      const { request } = parseSearchRequest(q.type, q.params(pick(t.members)), { strict: true, maxCount: 1000, defaultCount: 20 });
      const t0 = performance.now();
      await executeSearch(dbs[ti]!, request);
      if (!warm) ms.get(`${ti}|${q.name}`)!.push(performance.now() - t0);
    }
    return targets.map((_, ti) =>
      QUERIES.map((q) => {
        const sorted = ms.get(`${ti}|${q.name}`)!.sort((x, y) => x - y);
        return { name: q.name, samples: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
      }),
    );
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
  }
}

async function storeFacts(databaseUrl: string, schema: string): Promise<{ stored: number; bytes: number }> {
  const db = await openPostgres({ connectionString: databaseUrl, schema, max: 1 });
  try {
    const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource WHERE NOT deleted');
    const b = await db.query<{ b: number }>(
      `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS b FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
        WHERE s.nspname = $1 AND c.relkind IN ('r', 'm')`,
      [schema],
    );
    return { stored: n.rows[0]?.n ?? 0, bytes: Number(b.rows[0]?.b ?? 0) };
  } finally {
    await db.close();
  }
}

function phaseOf(label: string, rules: 'on' | 'off', o: { membersPerBundle: number; concurrency: number }, r: LoadResult): LoadPhase {
  const sorted = [...r.bundleMs].sort((a, b) => a - b);
  return {
    label,
    rules,
    membersPerBundle: o.membersPerBundle,
    concurrency: o.concurrency,
    members: r.members,
    resources: r.resources,
    seconds: r.seconds,
    resourcesPerSecond: r.resourcesPerSecond,
    bundleP50: percentile(sorted, 50),
    bundleP95: percentile(sorted, 95),
    failures: r.failures,
    errors: r.errors.slice(0, 5),
    stoppedBy: r.stoppedBy,
  };
}

export async function runSearchScale(o: SearchScaleOptions): Promise<SearchScaleReport> {
  const schema = newSchemaName('bench_scale');
  const referenceSchema = newSchemaName('bench_scale_ref');
  const report: SearchScaleReport = {
    options: o,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    loadBefore: os.loadavg(),
    loadAfter: [],
    schema,
    referenceSchema,
    directoryResources: 0,
    loads: [],
    stages: [],
    notes: [],
  };
  const pgv = await postgresVersion(o.databaseUrl);
  if (pgv) report.postgresVersion = pgv;
  const members: MemberRef[] = [];
  const refMembers: MemberRef[] = [];
  let concord: ConcordProcess | undefined;
  let refConcord: ConcordProcess | undefined;
  const progress = (label: string) => (p: Parameters<typeof formatProgress>[0]) => log(formatProgress(p, label));
  const save = async (): Promise<void> => {
    await mkdir(dirname(o.json), { recursive: true });
    await writeFile(o.json, JSON.stringify(report, null, 1));
  };

  const stage = async (label: string, withPlans: boolean): Promise<void> => {
    const t0 = performance.now();
    log(`${label}: ANALYZE`);
    await analyzeSchema(o.databaseUrl, schema);
    await analyzeSchema(o.databaseUrl, referenceSchema);
    const facts = await storeFacts(o.databaseUrl, schema);
    const refFacts = await storeFacts(o.databaseUrl, referenceSchema);
    log(`${label}: ${facts.stored} stored resources (reference ${refFacts.stored}), schema ${(facts.bytes / 2 ** 20).toFixed(0)} MiB; measuring ${QUERIES.length} queries x ${o.samples} samples x 2 stores`);
    const targets: Target[] = [
      { base: concord!.base, schema, members },
      { base: refConcord!.base, schema: referenceSchema, members: refMembers },
    ];
    const [queries, refQueries] = await measureQueries(targets, o, 900);
    for (const [qi, q] of queries!.entries()) {
      const ref = refQueries![qi]!;
      log(`${label}: ${q.name}: p50 ${q.p50.toFixed(2)} ms, p95 ${q.p95.toFixed(2)} ms, p99 ${q.p99.toFixed(2)} ms (${q.samples} samples, ${q.errors} errors, ${q.unexpected} unexpected); reference p95 ${ref.p95.toFixed(2)} ms`);
    }
    const plans = withPlans ? await capturePlans(o.databaseUrl, schema, members) : [];
    const [storage, refStorage] = await measureStorage(o.databaseUrl, targets, o.storageSamples);
    for (const [qi, q] of storage!.entries()) log(`${label}: storage only ${q.name}: p50 ${q.p50.toFixed(2)} ms, p95 ${q.p95.toFixed(2)} ms; reference p95 ${refStorage![qi]!.p95.toFixed(2)} ms`);
    report.stages.push({
      label,
      storage: storage!,
      storedResources: facts.stored,
      members: members.length,
      schemaBytes: facts.bytes,
      at: new Date().toISOString(),
      loadAverage: os.loadavg(),
      seconds: (performance.now() - t0) / 1000,
      queries: queries!,
      plans,
      reference: { storedResources: refFacts.stored, queries: refQueries!, storage: refStorage! },
    });
    await save();
  };

  /** Concord (rules on) on `s`, the directory and members up to --small, one member per Bundle. */
  const loadSmall = async (s: string, into: MemberRef[], what: string): Promise<{ c: ConcordProcess; directory: Directory }> => {
    const c = await startConcord({ schema: s, rules: 'on', databaseUrl: o.databaseUrl, dropSchemaOnExit: true });
    const before = await storeFacts(o.databaseUrl, s);
    const directory = await loadDirectory(c.base);
    const afterDir = await storeFacts(o.databaseUrl, s);
    report.directoryResources = afterDir.stored - before.stored;
    log(`${what}: directory loaded (${report.directoryResources} resources); ${afterDir.stored} stored incl. conformance resources`);
    const smallMembers = Math.max(1, Math.ceil((o.small - afterDir.stored) / RESOURCES_PER_MEMBER));
    const onOpts = { membersPerBundle: 1, concurrency: 4 };
    const on = await loadMembers({ base: c.base, directory, startAt: 0, members: smallMembers, ...onOpts, maxSeconds: 900, progress: progress(`${what}, rules on`), progressEveryMs: 5000 });
    into.push(...on.loaded);
    report.loads.push(phaseOf(`${what}: to ~${size(o.small)}, rules ON, 1 member per Bundle`, 'on', onOpts, on));
    log(formatProgress(on, `${what}, rules on`) + ` stopped: ${on.stoppedBy}`);
    if (on.failures > 0) throw new Error(`rules-on load failed: ${on.errors.join('; ')}`);
    return { c, directory };
  };

  try {
    // 1. two stores loaded identically to ~10K with the rules on: the reference stays at that size.
    refConcord = (await loadSmall(referenceSchema, refMembers, 'reference store')).c;
    const main = await loadSmall(schema, members, 'growing store');
    concord = main.c;
    let directory = main.directory;
    if (o.bulkRules === 'off') {
      await concord.close(false);
      concord = undefined;
      concord = await startConcord({ schema, rules: 'off', databaseUrl: o.databaseUrl, dropSchemaOnExit: true });
      directory = await loadDirectory(concord.base); // conditional creates: finds the same directory
      await refConcord.close(false);
      refConcord = undefined;
      refConcord = await startConcord({ schema: referenceSchema, rules: 'off', databaseUrl: o.databaseUrl, dropSchemaOnExit: true });
    }
    await stage(`~${size(o.small)}`, true);

    // 2. bulk into the growing store, with checkpoints, bounded by --load-minutes of loading.
    const bulkOpts = { membersPerBundle: o.membersPerBundle, concurrency: o.loadConcurrency };
    const bulkRules = o.bulkRules;
    let loadSeconds = 0;
    const goals = [...o.checkpoints.filter((c) => c > o.small && c < o.target), o.target];
    for (const goal of goals) {
      const facts = await storeFacts(o.databaseUrl, schema);
      const need = Math.ceil((goal - facts.stored) / RESOURCES_PER_MEMBER);
      const left = o.loadMinutes * 60 - loadSeconds;
      if (need <= 0) continue;
      if (left <= 5) break;
      log(`bulk: ${facts.stored} stored, loading ${need} members towards ${goal} (at most ${left.toFixed(0)} s)`);
      const r = await loadMembers({ base: concord.base, directory, startAt: members.length + 1_000_000, members: need, ...bulkOpts, maxSeconds: left, progress: progress('bulk'), progressEveryMs: 10_000 });
      loadSeconds += r.seconds;
      members.push(...r.loaded);
      report.loads.push(phaseOf(`growing store: towards ${goal}, rules ${bulkRules.toUpperCase()}, ${o.membersPerBundle} members per Bundle`, bulkRules, bulkOpts, r));
      log(formatProgress(r, 'bulk') + ` stopped: ${r.stoppedBy}`);
      await save();
      if (r.failures >= 20) throw new Error(`bulk load failed: ${r.errors.join('; ')}`);
      const reached = (await storeFacts(o.databaseUrl, schema)).stored;
      await stage(r.stoppedBy === 'done' ? `~${size(goal)}` : `${size(reached)} (time limit)`, true);
      if (r.stoppedBy !== 'done') break;
    }
  } finally {
    if (concord) await concord.close(true).catch(() => undefined);
    if (refConcord) await refConcord.close(true).catch(() => undefined);
    await dropSchema(o.databaseUrl, schema).catch(() => undefined);
    await dropSchema(o.databaseUrl, referenceSchema).catch(() => undefined);
    report.finishedAt = new Date().toISOString();
    report.loadAfter = os.loadavg();
    await save().catch(() => undefined);
  }
  return report;
}

// ---- arguments -------------------------------------------------------------------------------------------

export function parseArgs(argv: string[]): SearchScaleOptions & { fromJson?: string } {
  const { value, num: number } = flags(argv);
  const num = (name: string, fallback: number, min: number): number => number(name, fallback, min, false);
  const fromJson = value('from-json');
  return {
    target: num('target', 1_000_000, 1000),
    small: num('small', 10_000, 500),
    checkpoints: (value('checkpoints') ?? '100000').split(',').filter((s) => s !== '').map(Number),
    loadMinutes: num('load-minutes', 40, 0.1),
    samples: Math.round(num('samples', 600, 10)),
    warmup: Math.round(num('warmup', 40, 0)),
    queryConcurrency: Math.round(num('query-concurrency', 2, 1)),
    loadConcurrency: Math.round(num('load-concurrency', 6, 1)),
    membersPerBundle: Math.round(num('members-per-bundle', 10, 1)),
    bulkRules: value('bulk-rules') === 'off' ? 'off' : 'on',
    storageSamples: Math.round(num('storage-samples', 300, 10)),
    databaseUrl: databaseUrlFromEnv(),
    json: value('json') ?? join(os.tmpdir(), 'concord-bench', `search-scale-${Date.now()}.json`),
    ...(fromJson ? { fromJson } : {}),
  };
}

export function commandFor(o: SearchScaleOptions): string {
  return (
    `npx tsx bench/search-scale.ts --target ${o.target} --small ${o.small} --checkpoints ${o.checkpoints.join(',')} --load-minutes ${o.loadMinutes} ` +
    `--samples ${o.samples} --warmup ${o.warmup} --query-concurrency ${o.queryConcurrency} --load-concurrency ${o.loadConcurrency} --members-per-bundle ${o.membersPerBundle} --bulk-rules ${o.bulkRules} --storage-samples ${o.storageSamples}`
  );
}

export async function loadReport(file: string): Promise<SearchScaleReport> {
  return JSON.parse(await readFile(file, 'utf8')) as SearchScaleReport;
}

// ---- report ------------------------------------------------------------------------------------------------

const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const size = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}K`);

/** p95 extrapolated to `at` resources by a least-squares fit of p95 against log10(size). */
function extrapolate(points: { size: number; p95: number }[], at: number): number {
  const xs = points.map((p) => Math.log10(p.size));
  const ys = points.map((p) => p.p95);
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const b = sxx > 0 ? sxy / sxx : 0;
  return my + b * (Math.log10(at) - mx);
}

export function renderMarkdown(r: SearchScaleReport, command: string): string {
  const o = r.options;
  const cpu = os.cpus();
  const first = r.stages[0];
  const last = r.stages[r.stages.length - 1];
  const lines: string[] = [
    '## Search at scale: coordination queries at ~10K and at the largest size reached (target 1M)',
    '',
    `Run ${r.startedAt} → ${r.finishedAt}. Reproduce with:`,
    '',
    '```sh',
    command,
    '```',
    '',
    `- Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, **shared with other engineers' test runs** ` +
      `(load average before ${r.loadBefore.map((n) => n.toFixed(2)).join(' / ')}, after ${r.loadAfter.map((n) => n.toFixed(2)).join(' / ')}). ` +
      `Node ${process.version}; PostgreSQL ${r.postgresVersion ?? 'n/a'} on 127.0.0.1 (same machine, default settings), schemas \`${r.schema}\` (growing) and \`${r.referenceSchema}\` (reference), dropped afterwards.`,
    `- Data: bench/load-members.ts. A directory of ${r.directoryResources} resources (6 MLTC plans, 6 Health Homes, a home care agency, 4 care managers each as Practitioner + PractitionerRole), ` +
      `then per member one transaction Bundle of ${RESOURCES_PER_MEMBER} resources shaped like the \`ny\` seed scenario: Patient, 2 EpisodeOfCare, QuestionnaireResponse (the lead's basis), ` +
      '2 CareTeams (MLTC team with the documented lead care manager; Health Home team), the service-split CarePlan (Appendix A), 3 ServiceRequests basedOn it, a data-sharing Consent. ' +
      'Every Bundle passes the profiles and, in the rules-on phase, every coordination rule. "Stored resources" counts all live rows of `resource` (including the conformance resources Concord syncs at startup).',
    o.bulkRules === 'off'
      ? `- The first ${size(o.small)} are loaded with the coordination rules **on** (one member per Bundle, 4 concurrent Bundles). For the bulk Concord is restarted on the same schema with **\`CONCORD_RULES=off\`** ` +
        `(${o.membersPerBundle} members per Bundle, ${o.loadConcurrency} concurrent Bundles); every query measurement runs against that same rules-off instance (the rules only act on writes).`
      : `- **The coordination rules are on for the whole load** (and for the measurements): the first ${size(o.small)} one member per Bundle with 4 concurrent Bundles, the bulk ` +
        `${o.membersPerBundle} members per Bundle with ${o.loadConcurrency} concurrent Bundles. A trial before the run loaded 13,200 resources at 447 resources/s with the rules on and 392 with them off ` +
        '(10 members per Bundle, 6 concurrent, noisy shared machine): the per-member rule checks are not what limits the load rate, so there was no reason to switch them off.',
    `- Queries: over HTTP against Concord in a child process, a timed fetch loop (keep-alive, ${o.queryConcurrency} concurrent requests), ${o.warmup} warm-up + ${o.samples} samples per query, ` +
      'all query kinds interleaved in random order, each request for a uniformly random loaded member. Latency = request sent → full body received (client-side, includes HTTP and JSON). ' +
      '`ANALYZE` runs before each measurement. "unexpected" counts responses whose match/include counts differ from what the generator loaded (should be 0).',
    '',
    '### Load rate',
    '',
    '| Phase | rules | members/Bundle | concurrent Bundles | members | resources | seconds | **resources/s** | Bundle p50 ms | Bundle p95 ms | failures | stopped by |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const l of r.loads) {
    lines.push(
      `| ${l.label} | ${l.rules} | ${l.membersPerBundle} | ${l.concurrency} | ${l.members} | ${l.resources} | ${f(l.seconds, 0)} | **${f(l.resourcesPerSecond, 0)}** | ${f(l.bundleP50, 0)} | ${f(l.bundleP95, 0)} | ${l.failures} | ${l.stoppedBy} |`,
    );
  }
  for (const l of r.loads.filter((x) => x.errors.length > 0)) lines.push('', `Errors (${l.label}): ${l.errors.join('; ')}`);
  const bulk = r.loads.filter((l) => l.rules === 'off');
  const bulkRes = bulk.reduce((a, l) => a + l.resources, 0);
  const bulkSec = bulk.reduce((a, l) => a + l.seconds, 0);
  if (bulkSec > 0) {
    const rate = bulkRes / bulkSec;
    lines.push(
      '',
      `Bulk (rules off) average: ${f(rate, 0)} resources/s → 1M resources would take about ${f(1e6 / rate / 60, 0)} minutes on this machine; ` +
        `the run was bounded to ${o.loadMinutes} minutes of bulk loading.`,
    );
  }
  const paired = r.stages.filter((s) => s.reference);
  if (paired.length > 0) {
    lines.push(
      '',
      '### p95 at each size vs the ~10K reference store, measured in the same time window (ms)',
      '',
      `A second Concord keeps a ${size(paired[0]!.reference!.storedResources)} store loaded identically; at every stage its queries are interleaved with the growing store's ` +
        '(same loop, random order), so load from other processes on the shared machine hits both alike. This paired ratio is the primary measure of the target; ' +
        'the sequential comparison with the first stage follows below.',
      '',
    );
    const ph = ['Query', ...paired.flatMap((s) => [`p95 @${size(s.storedResources)}`, `p95 ref`, `**ratio**`])];
    ph.push('≤ 1.5 at the largest size');
    lines.push(`| ${ph.join(' | ')} |`, `|${ph.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (let qi = 0; qi < QUERIES.length; qi++) {
      const row = [QUERIES[qi]!.name];
      let lastRatio = Number.NaN;
      for (const s of paired) {
        const a = s.queries[qi]?.p95 ?? Number.NaN;
        const b = s.reference?.queries[qi]?.p95 ?? Number.NaN;
        lastRatio = a / b;
        row.push(f(a, 2), f(b, 2), `**${f(lastRatio, 2)}**`);
      }
      row.push(lastRatio <= 1.5 ? 'met' : '**not met**');
      lines.push(`| ${row.join(' | ')} |`);
    }
    lines.push('', 'Storage layer only (`executeSearch` direct, no HTTP), p95 growing / reference in the same window: ' +
      paired.map((s) => `@${size(s.storedResources)}: ${QUERIES.map((q, qi) => f((s.storage?.[qi]?.p95 ?? Number.NaN) / (s.reference?.storage[qi]?.p95 ?? Number.NaN), 2)).join(' / ')}`).join('; ') +
      ' (queries in the order of the table).');
  }
  lines.push('', '### Query latency by size (ms), sequential', '');
  const head = ['Query', ...r.stages.flatMap((s) => [`p50 @${size(s.storedResources)}`, `p95 @${size(s.storedResources)}`, `p99 @${size(s.storedResources)}`])];
  if (first && last && last !== first) head.push(`**p95 ratio ${size(last.storedResources)} / ${size(first.storedResources)}**`, '≤ 1.5 at this size', 'p95 @1M (log fit)', 'extrapolated ratio @1M');
  lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  const flags: string[] = [];
  for (let qi = 0; qi < QUERIES.length; qi++) {
    const q = QUERIES[qi]!;
    const row = [q.name];
    for (const s of r.stages) {
      const st = s.queries[qi];
      row.push(f(st?.p50 ?? Number.NaN, 2), f(st?.p95 ?? Number.NaN, 2), f(st?.p99 ?? Number.NaN, 2));
      if (st && (st.errors > 0 || st.unexpected > 0)) flags.push(`${q.name} @${size(s.storedResources)}: ${st.errors} errors ${st.errorExamples.join(' / ')}, ${st.unexpected} unexpected counts`);
    }
    if (first && last && last !== first) {
      const a = first.queries[qi]?.p95 ?? Number.NaN;
      const b = last.queries[qi]?.p95 ?? Number.NaN;
      const ratio = b / a;
      const points = r.stages.map((s) => ({ size: s.storedResources, p95: s.queries[qi]?.p95 ?? Number.NaN }));
      const at1M = extrapolate(points, 1e6);
      row.push(`**${f(ratio, 2)}**`, ratio <= 1.5 ? 'met' : '**not met**', last.storedResources >= 1e6 ? '—' : f(at1M, 2), last.storedResources >= 1e6 ? '—' : f(at1M / a, 2));
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  if (r.stages.some((s) => s.storage)) {
    lines.push(
      '',
      'Storage layer only (`executeSearch` called in the benchmark process on its own connection, no HTTP, no Bundle rendering; ' +
        `${o.storageSamples} sequential samples per query, random members, kinds interleaved) — the part of the latency that depends on the size of the store:`,
      '',
    );
    const sh = ['Query', ...r.stages.flatMap((s) => [`p50 @${size(s.storedResources)}`, `p95 @${size(s.storedResources)}`])];
    if (first && last && last !== first) sh.push(`p95 ratio ${size(last.storedResources)} / ${size(first.storedResources)}`);
    lines.push(`| ${sh.join(' | ')} |`, `|${sh.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (let qi = 0; qi < QUERIES.length; qi++) {
      const row = [QUERIES[qi]!.name];
      for (const s of r.stages) row.push(f(s.storage?.[qi]?.p50 ?? Number.NaN, 2), f(s.storage?.[qi]?.p95 ?? Number.NaN, 2));
      if (first && last && last !== first) row.push(f((last.storage?.[qi]?.p95 ?? Number.NaN) / (first.storage?.[qi]?.p95 ?? Number.NaN), 2));
      lines.push(`| ${row.join(' | ')} |`);
    }
  }
  lines.push('', `Samples per query and stage: ${r.stages.map((s) => `${size(s.storedResources)}: ${s.queries.map((q) => q.samples).join('/')}`).join('; ')}.`);
  lines.push(`Stages: ${r.stages.map((s) => `${s.label} = ${s.storedResources} stored resources, ${s.members} members, schema ${(s.schemaBytes / 2 ** 20).toFixed(0)} MiB, load average ${s.loadAverage.map((n) => n.toFixed(2)).join('/')}`).join('; ')}.`);
  for (const q of QUERIES.filter((x) => x.note)) lines.push(`- \`${q.name}\`: ${q.note}.`);
  if (flags.length > 0) lines.push('', `**Errors / unexpected results**: ${flags.join('; ')}.`);
  else lines.push('', 'Every sampled response was HTTP 200 with the expected number of matches and includes.');
  for (const n of r.notes) lines.push('', n);

  lines.push(
    '',
    '### Query plans',
    '',
    'The SQL is captured by running Concord\'s own search layer (`parseSearchRequest` from src/fhir/search + `executeSearch` from src/storage/search, the calls the HTTP route makes) ' +
      'through a recording `Queryable` for one random member, then each statement is run under `EXPLAIN (ANALYZE, BUFFERS)` with the same parameters. ' +
      'The first statement of each search is the paging bound (`max(rid)`), then the page query, then one statement per `_include`/`_revinclude`.',
    '',
  );
  for (const s of r.stages.filter((x) => x.plans.length > 0)) {
    lines.push(`#### Plans at ${size(s.storedResources)} stored resources`, '', '| Query | statement | planning ms | execution ms | indexes used | sequential scans |', '|---|---:|---:|---:|---|---|');
    for (const p of s.plans) {
      p.statements.forEach((st, i) => {
        lines.push(`| ${p.query} | ${i + 1} | ${f(st.planningMs, 3)} | ${f(st.executionMs, 3)} | ${st.indexes.map((x) => `\`${x}\``).join(', ') || '—'} | ${st.seqScans.length ? `**${st.seqScans.join(', ')}**` : 'none'} |`);
      });
    }
    lines.push('');
  }
  const lastWithPlans = [...r.stages].reverse().find((x) => x.plans.length > 0);
  if (lastWithPlans) {
    lines.push(`<details><summary>Full EXPLAIN (ANALYZE, BUFFERS) at ${size(lastWithPlans.storedResources)} stored resources</summary>`, '');
    for (const p of lastWithPlans.plans) {
      lines.push(`**${p.query}**`, '');
      for (const st of p.statements) {
        lines.push('```sql', st.sql.replace(/\s+\n/g, '\n').trim(), `-- params: ${JSON.stringify(st.params)}`, '```', '```', st.plan, '```', '');
      }
    }
    lines.push('</details>');
  }
  return lines.join('\n');
}

// ---- CLI ---------------------------------------------------------------------------------------------------

async function cli(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const report = options.fromJson ? await loadReport(options.fromJson) : await runSearchScale(options);
  process.stdout.write(renderMarkdown(report, commandFor(report.options)) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

// Cost of the coordination rules on writes: CareTeam and ServiceRequest creates with CONCORD_RULES=on
// beside the same creates with CONCORD_RULES=off, for members with 1 and with 50 existing teams/requests.
//
//   npx tsx bench/rules-cost.ts [--requests 300] [--warmup 60] [--rounds 3] [--concurrency 8]
//                               [--history-members 150] [--history 50]
//
// Two Concord instances (child processes), each on PostgreSQL in its own schema, seeded identically over
// HTTP: the shared directory of bench/load-members.ts; "1-history" members (Patient, Health Home
// enrolment, 1 CareTeam, 1 ServiceRequest), one pool per create type, sized so that every create of the
// run goes to a member not used before (the member really has exactly 1 team and 1 request); and
// "50-history" members (Patient, enrolment, 50 CareTeams, 50 ServiceRequests). Creates: a CareTeam whose
// one participant is the member's Health Home care manager (not a lead) holding `bh-and-out-of-plan`
// (allowed for a health-home, already held by that same organization), and a ServiceRequest for H0004
// whose one-day occurrencePeriod no other request of the member overlaps (a per-instance day counter).
// Every response must be 201; anything else is counted as an error. Runs are interleaved
// (for each round, type and history: on/off, order reversed every other round); medians over rounds.
import type { Bundle, BundleEntry, Reference, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { hcpcs, program } from '../scripts/seed/fhir.js';
import { careTeam, enrolment, patient, address, serviceRequest } from '../scripts/seed/resources.js';
import { analyzeSchema, databaseUrlFromEnv, dropSchema, median, newSchemaName, percentile, postgresVersion, startConcord, type ConcordProcess } from './concord-process.js';
import { loadDirectory, postBundle, type Directory } from './load-members.js';
import { flags } from './args.js';
import { benchPatient } from './fixtures.js';

export interface RulesCostOptions {
  requests: number;
  warmup: number;
  rounds: number;
  concurrency: number;
  historyMembers: number;
  history: number;
  databaseUrl: string;
}

type Mode = 'on' | 'off';
/** Patient: the plain create of the same run, as the yardstick for the coordinated types. */
type Kind = 'CareTeam' | 'ServiceRequest' | 'Patient';
type Group = 1 | 50;

export interface RunStats {
  mode: Mode;
  kind: Kind;
  group: Group;
  round: number;
  requests: number;
  created: number;
  errors: number;
  errorExamples: string[];
  seconds: number;
  reqPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  serverCpuPerRequest: number;
}

export interface RulesCostReport {
  options: RulesCostOptions;
  startedAt: string;
  finishedAt: string;
  loadBefore: number[];
  loadAfter: number[];
  postgresVersion?: string;
  seedSeconds: Record<Mode, number>;
  seededResources: Record<Mode, number>;
  runs: RunStats[];
  /** Mean existing CareTeams / ServiceRequests of the 50-history members at the end (creates add to them). */
  historyAtEnd: Record<Mode, { careTeams: number; serviceRequests: number }>;
}

const H0004 = hcpcs('H0004', 'Behavioral health counseling and therapy, per 15 minutes');

function log(message: string): void {
  process.stderr.write(`[rules-cost ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---- resources ---------------------------------------------------------------------------------------

export interface Ctx {
  hh: Reference<never>;
  hhRole: Reference<never>;
}

const dayAfter = (base: string, days: number): string => new Date(Date.parse(`${base}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

export function hhTeam(subject: Reference<never>, c: Ctx, start: string): Resource {
  return careTeam({
    name: 'Health Home care management team',
    subject,
    managingOrganization: c.hh,
    start,
    reason: 'Behavioral health and services outside the plan benefit package',
    participants: [{ member: c.hhRole, start, scopes: ['bh-and-out-of-plan'] }],
  });
}

function hhRequest(subject: Reference<never>, c: Ctx, day: string): Resource {
  return serviceRequest({
    subject,
    code: H0004,
    category: 'behavioral-health',
    requester: c.hhRole,
    occurrencePeriod: { start: day, end: day },
    authoredOn: '2025-12-01',
    reason: 'Depression, recurrent; weekly counseling',
  });
}

function memberEntries(index: number, history: number, c: Ctx): BundleEntry[] {
  const entries: BundleEntry[] = [];
  const add = (resource: Resource): Reference<never> => {
    const fullUrl = `urn:uuid:${randomUUID()}`;
    entries.push({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
    return { reference: fullUrl };
  };
  const subject = add(
    patient({
      given: 'Rosa',
      family: `RulesBench${index}`,
      gender: index % 2 === 0 ? 'female' : 'male',
      birthDate: '1950-05-05',
      medicaidId: { system: 'https://concord-fhir.org/seed/sid/ny-medicaid-cin', value: `RB${String(index).padStart(8, '0')}` },
      address: address('1 Bench Road', 'Bronx', 'NY', '10457'),
      phone: '+1-718-555-0100',
    }),
  );
  add(enrolment({ patient: subject, program: program('ny-health-home', 'NY Health Home'), managingOrganization: c.hh, period: { start: '2024-10-01' }, careManager: c.hhRole }));
  for (let k = 0; k < history; k++) add(hhTeam(subject, c, dayAfter('2024-10-01', k)));
  for (let k = 0; k < history; k++) add(hhRequest(subject, c, dayAfter('2020-01-01', k)));
  return entries;
}

/** Posts the Bundles with bounded concurrency; returns the Patient id of each member, in order. */
export async function seedMembers(base: string, first: number, count: number, history: number, perBundle: number, c: Ctx): Promise<string[]> {
  const ids: string[] = new Array<string>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const from = next;
      const n = Math.min(perBundle, count - from);
      next += n;
      const parts = Array.from({ length: n }, (_, k) => memberEntries(first + from + k, history, c));
      const response: Bundle = await postBundle(base, { resourceType: 'Bundle', type: 'transaction', entry: parts.flat() });
      let offset = 0;
      parts.forEach((p, k) => {
        const loc = response.entry?.[offset]?.response?.location ?? '';
        const id = /Patient\/([^/]+)/.exec(loc)?.[1];
        if (!id) throw new Error(`no Patient location in the seed response: ${loc}`);
        ids[from + k] = id;
        offset += p.length;
      });
    }
  };
  await Promise.all(Array.from({ length: 4 }, () => worker()));
  return ids;
}

// ---- one instance -------------------------------------------------------------------------------------

interface Instance {
  mode: Mode;
  concord: ConcordProcess;
  ctx: Ctx;
  pools: Record<Kind, string[]>;
  /** Next unused member of each 1-history pool. */
  cursor: Record<Kind, number>;
  history: string[];
  day: number;
}

async function setUp(mode: Mode, o: RulesCostOptions, onlyOnePool: number): Promise<{ instance: Instance; seconds: number; resources: number }> {
  const schema = newSchemaName(`bench_rules_${mode}`);
  const concord = await startConcord({ schema, rules: mode, databaseUrl: o.databaseUrl, dropSchemaOnExit: true });
  try {
    const t0 = performance.now();
    const dir: Directory = await loadDirectory(concord.base);
    const ctx: Ctx = { hh: { reference: `Organization/${dir.healthHomes[0]!}` }, hhRole: { reference: `PractitionerRole/${dir.hhRoles[0]![0]!}` } };
    const ct = await seedMembers(concord.base, 0, onlyOnePool, 1, 10, ctx);
    const sr = await seedMembers(concord.base, onlyOnePool, onlyOnePool, 1, 10, ctx);
    const history = await seedMembers(concord.base, 2 * onlyOnePool, o.historyMembers, o.history, 1, ctx);
    const seconds = (performance.now() - t0) / 1000;
    // Measured creates should see the planner statistics of a store that has run a while, not those of
    // the nearly empty tables the seeding started from (a cached plan may still assume them).
    await analyzeSchema(o.databaseUrl, schema);
    const resources = 2 * onlyOnePool * 4 + o.historyMembers * (2 + 2 * o.history);
    log(`${mode}: seeded ${resources} resources in ${seconds.toFixed(0)} s (schema ${schema})`);
    return { instance: { mode, concord, ctx, pools: { CareTeam: ct, ServiceRequest: sr, Patient: [] }, cursor: { CareTeam: 0, ServiceRequest: 0, Patient: 0 }, history, day: 0 }, seconds, resources };
  } catch (err) {
    await concord.close(true);
    throw err;
  }
}

function nextBody(inst: Instance, kind: Kind, group: Group): string {
  if (kind === 'Patient') return JSON.stringify(benchPatient(inst.cursor.Patient++));
  let member: string | undefined;
  if (group === 1) {
    member = inst.pools[kind][inst.cursor[kind]++];
    if (member === undefined) throw new Error(`1-history pool for ${kind} exhausted`);
  } else member = inst.history[Math.floor(Math.random() * inst.history.length)]!;
  const subject: Reference<never> = { reference: `Patient/${member}` };
  const resource = kind === 'CareTeam' ? hhTeam(subject, inst.ctx, '2026-01-01') : hhRequest(subject, inst.ctx, dayAfter('2030-01-01', inst.day++));
  return JSON.stringify(resource);
}

async function run(inst: Instance, kind: Kind, group: Group, requests: number, concurrency: number, round: number): Promise<RunStats> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let created = 0;
  let issued = 0;
  const url = `${inst.concord.base}/${kind}`;
  const cpu0 = await inst.concord.cpu();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (issued < requests && (performance.now() - started) / 1000 < 120) {
      issued++;
      const body = nextBody(inst, kind, group);
      const t0 = performance.now();
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', prefer: 'return=minimal' },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        latencies.push(performance.now() - t0);
        if (res.status === 201) created++;
        else errors.push(`HTTP ${res.status} ${text.slice(0, 300)}`);
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const seconds = (performance.now() - started) / 1000;
  const cpu1 = await inst.concord.cpu();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    mode: inst.mode,
    kind,
    group,
    round,
    requests: issued,
    created,
    errors: errors.length,
    errorExamples: [...new Set(errors)].slice(0, 3),
    seconds,
    reqPerSec: created / seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    serverCpuPerRequest: issued > 0 ? (cpu1 - cpu0) / issued : Number.NaN,
  };
}

async function historyAtEnd(inst: Instance): Promise<{ careTeams: number; serviceRequests: number }> {
  const count = async (type: string, param: string): Promise<number> => {
    let total = 0;
    for (const id of inst.history) {
      const res = await fetch(`${inst.concord.base}/${type}?${param}=Patient/${id}&_summary=count`);
      total += ((await res.json()) as { total?: number }).total ?? 0;
    }
    return total / inst.history.length;
  };
  return { careTeams: await count('CareTeam', 'subject'), serviceRequests: await count('ServiceRequest', 'subject') };
}

export async function runRulesCost(o: RulesCostOptions): Promise<RulesCostReport> {
  const report: RulesCostReport = {
    options: o,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    loadBefore: os.loadavg(),
    loadAfter: [],
    seedSeconds: { on: 0, off: 0 },
    seededResources: { on: 0, off: 0 },
    runs: [],
    historyAtEnd: { on: { careTeams: 0, serviceRequests: 0 }, off: { careTeams: 0, serviceRequests: 0 } },
  };
  const pgv = await postgresVersion(o.databaseUrl);
  if (pgv) report.postgresVersion = pgv;
  const poolSize = o.warmup + o.rounds * o.requests;
  const instances: Instance[] = [];
  try {
    for (const mode of ['on', 'off'] as Mode[]) {
      const { instance, seconds, resources } = await setUp(mode, o, poolSize);
      instances.push(instance);
      report.seedSeconds[mode] = seconds;
      report.seededResources[mode] = resources;
    }
    const kinds: Kind[] = ['CareTeam', 'ServiceRequest', 'Patient'];
    const groupsOf = (kind: Kind): Group[] => (kind === 'Patient' ? [1] : [1, 50]);
    if (o.warmup > 0) {
      for (const inst of instances) {
        for (const kind of kinds) {
          const w = await run(inst, kind, 1, o.warmup, o.concurrency, 0);
          log(`${inst.mode}: warm-up ${kind}: ${w.reqPerSec.toFixed(0)} req/s, ${w.errors} errors ${w.errorExamples.join(' / ')}`);
        }
      }
    }
    for (let round = 1; round <= o.rounds; round++) {
      for (const kind of kinds) {
        for (const group of groupsOf(kind)) {
          const order = round % 2 === 1 ? instances : [...instances].reverse();
          for (const inst of order) {
            const r = await run(inst, kind, group, o.requests, o.concurrency, round);
            report.runs.push(r);
            log(
              `round ${round}/${o.rounds} ${kind} ${group}-history rules ${inst.mode}: ${r.reqPerSec.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, ` +
                `p99 ${r.p99.toFixed(1)} ms, server CPU ${(r.serverCpuPerRequest / 1000).toFixed(2)} ms/req, ${r.errors} errors ${r.errorExamples.join(' / ')}`,
            );
          }
        }
      }
    }
    for (const inst of instances) report.historyAtEnd[inst.mode] = await historyAtEnd(inst);
  } finally {
    for (const inst of instances) {
      await inst.concord.close(true).catch(() => undefined);
      await dropSchema(o.databaseUrl, inst.concord.schema).catch(() => undefined);
    }
    report.finishedAt = new Date().toISOString();
    report.loadAfter = os.loadavg();
  }
  return report;
}

// ---- arguments and report ---------------------------------------------------------------------------------

export function parseArgs(argv: string[]): RulesCostOptions {
  const { num: number } = flags(argv);
  const num = (name: string, fallback: number, min: number): number => number(name, fallback, min, true);
  return {
    requests: num('requests', 300, 10),
    warmup: num('warmup', 60, 0),
    rounds: num('rounds', 3, 1),
    concurrency: num('concurrency', 8, 1),
    historyMembers: num('history-members', 150, 1),
    history: num('history', 50, 1),
    databaseUrl: databaseUrlFromEnv(),
  };
}

export function commandFor(o: RulesCostOptions): string {
  return `npx tsx bench/rules-cost.ts --requests ${o.requests} --warmup ${o.warmup} --rounds ${o.rounds} --concurrency ${o.concurrency} --history-members ${o.historyMembers} --history ${o.history}`;
}

const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const pct = (n: number): string => (Number.isFinite(n) ? `${(n * 100).toFixed(0)} %` : 'n/a');

export function renderMarkdown(r: RulesCostReport, command: string): string {
  const o = r.options;
  const cpu = os.cpus();
  const pick = (mode: Mode, kind: Kind, group: Group): RunStats[] => r.runs.filter((x) => x.mode === mode && x.kind === kind && x.group === group);
  const med = (runs: RunStats[], key: 'reqPerSec' | 'p50' | 'p95' | 'p99' | 'serverCpuPerRequest'): number => median(runs.map((x) => x[key]));
  // Group 50 is "the history members": label it with the history actually seeded (--history).
  const existing = (group: Group): number => (group === 1 ? 1 : o.history);
  const lines: string[] = [
    `## Coordination rules: cost of CareTeam and ServiceRequest creates, rules on vs off, 1 vs ${o.history} existing`,
    '',
    `Run ${r.startedAt} → ${r.finishedAt}. Reproduce with:`,
    '',
    '```sh',
    command,
    '```',
    '',
    `- Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, **shared with other engineers' test runs** ` +
      `(load average before ${r.loadBefore.map((n) => n.toFixed(2)).join(' / ')}, after ${r.loadAfter.map((n) => n.toFixed(2)).join(' / ')}); Node ${process.version}; ` +
      `PostgreSQL ${r.postgresVersion ?? 'n/a'} on 127.0.0.1 (same machine).`,
    `- Two Concord instances in child processes, \`CONCORD_RULES=on\` and \`off\`, each on PostgreSQL in its own schema (dropped afterwards), seeded identically over HTTP ` +
      `(${r.seededResources.on} resources each; seeding took ${f(r.seedSeconds.on)} s with the rules on, ${f(r.seedSeconds.off)} s off): ` +
      `${o.warmup + o.rounds * o.requests} "1-history" members per create type (Patient, Health Home enrolment, 1 CareTeam, 1 ServiceRequest; each create goes to a member not used before, so every measured create sees exactly 1 existing team and request) ` +
      `and ${o.historyMembers} "${o.history}-history" members (Patient, enrolment, ${o.history} CareTeams, ${o.history} ServiceRequests; creates go to a random one of them).`,
    '- Creates: CareTeam (coordination-care-team profile) whose one participant is the Health Home care manager, not a lead, holding `bh-and-out-of-plan` (allowed for a health-home and held by the same organization in the existing teams); ' +
      'ServiceRequest (coordinated-service-request profile) for H0004 by the Health Home care manager with a one-day occurrencePeriod no other request of the member overlaps. Profiles are validated in both modes; only the coordination rules differ.',
    `- A bounded fetch loop (keep-alive, ${o.concurrency} concurrent requests, \`Prefer: return=minimal\`), ${o.requests} creates per run, ${o.warmup} warm-up creates per instance and type; ` +
      `${o.rounds} rounds, in each round every (type, history) pair runs on both instances back to back, on/off order reversed every other round; medians over rounds. ` +
      'Every response must be 201 (others are counted as errors). req/s = 201s / wall time of the run; latencies client-side. Server CPU = user+system CPU of the Concord process per request.',
    `- The ${o.history}-history members gain the creates of the run: at the end they held on average ${f(r.historyAtEnd.on.careTeams, 1)} CareTeams / ${f(r.historyAtEnd.on.serviceRequests, 1)} ServiceRequests (rules-on instance), ` +
      `${f(r.historyAtEnd.off.careTeams, 1)} / ${f(r.historyAtEnd.off.serviceRequests, 1)} (rules-off instance).`,
    '',
    '| Create | existing | rules | req/s (median) | p50 ms | p95 ms | p99 ms | server CPU ms/req | req/s of each round | errors |',
    '|---|---:|---|---:|---:|---:|---:|---:|---|---:|',
  ];
  const kinds: Kind[] = ['CareTeam', 'ServiceRequest'];
  const groups: Group[] = [1, 50];
  const measuredKinds: Kind[] = r.runs.some((x) => x.kind === 'Patient') ? [...kinds, 'Patient'] : kinds;
  for (const kind of measuredKinds) {
    for (const group of kind === 'Patient' ? [1 as Group] : groups) {
      for (const mode of ['on', 'off'] as Mode[]) {
        const runs = pick(mode, kind, group);
        const errs = runs.reduce((a, x) => a + x.errors, 0);
        lines.push(
          `| ${kind} | ${existing(group)} | ${mode} | ${f(med(runs, 'reqPerSec'))} | ${f(med(runs, 'p50'), 1)} | ${f(med(runs, 'p95'), 1)} | ${f(med(runs, 'p99'), 1)} | ${f(med(runs, 'serverCpuPerRequest') / 1000, 2)} | ` +
            `${runs.map((x) => f(x.reqPerSec)).join(', ')} | ${errs}${errs > 0 ? ` (${[...new Set(runs.flatMap((x) => x.errorExamples))].slice(0, 2).join(' / ')})` : ''} |`,
        );
      }
    }
  }
  lines.push(
    '',
    `| Create | existing | **rules on / off req/s** | ≥ 50 % target | p95 on / off | server CPU on / off | rules-on req/s, ${o.history} / 1 existing | rules-on p95, ${o.history} / 1 existing | rules-on server CPU, ${o.history} / 1 existing | rules-off req/s, ${o.history} / 1 existing |`,
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const kind of kinds) {
    for (const group of groups) {
      const on = pick('on', kind, group);
      const off = pick('off', kind, group);
      const ratio = med(on, 'reqPerSec') / med(off, 'reqPerSec');
      const hist = group === 50;
      lines.push(
        `| ${kind} | ${existing(group)} | **${pct(ratio)}** | ${ratio >= 0.5 ? 'met' : '**not met**'} | ${f(med(on, 'p95') / med(off, 'p95'), 2)}× | ${f(med(on, 'serverCpuPerRequest') / med(off, 'serverCpuPerRequest'), 2)}× | ` +
          (hist
            ? `${pct(med(on, 'reqPerSec') / med(pick('on', kind, 1), 'reqPerSec'))} | ${f(med(on, 'p95') / med(pick('on', kind, 1), 'p95'), 2)}× | ` +
              `${f(med(on, 'serverCpuPerRequest') / med(pick('on', kind, 1), 'serverCpuPerRequest'), 2)}× | ${pct(med(off, 'reqPerSec') / med(pick('off', kind, 1), 'reqPerSec'))} |`
            : '— | — | — | — |'),
      );
    }
  }
  if (measuredKinds.includes('Patient')) {
    const patient = med(pick('on', 'Patient', 1), 'reqPerSec');
    lines.push(
      '',
      `Same run, rules on: **CareTeam create ${pct(med(pick('on', 'CareTeam', 1), 'reqPerSec') / patient)} of Patient create** (1 existing; ` +
        `${pct(med(pick('on', 'CareTeam', 50), 'reqPerSec') / patient)} at ${o.history} existing); ServiceRequest ${pct(med(pick('on', 'ServiceRequest', 1), 'reqPerSec') / patient)} / ` +
        `${pct(med(pick('on', 'ServiceRequest', 50), 'reqPerSec') / patient)}. Patient: the ~1 KB bench Patient (bench/fixtures.ts), no member rules apply.`,
    );
  }
  return lines.join('\n');
}

async function cli(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const report = await runRulesCost(options);
  process.stdout.write(renderMarkdown(report, commandFor(options)) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

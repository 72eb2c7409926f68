// Cost of reading $coordination-form from one snapshot: the same form (the New York seed scenario's member
// with the largest record) built by the service as it runs now (Repository.snapshot: one read-only
// REPEATABLE READ transaction, read and access caches bypassed) beside the same service over separate,
// cached reads (the service before the snapshot), in one process on PostgreSQL, interleaved rounds.
//
//   npx tsx bench/coordination-form.ts [--forms 300] [--rounds 4]
//
// Prints wall and process CPU per form (medians over rounds) and the load average.
import os from 'node:os';
import { loadConfig } from '../src/config.js';
import { CoordinationFormService } from '../src/fhir/coordination-form/service.js';
import type { Repository } from '../src/fhir/repository.js';
import { ResourceService } from '../src/fhir/resource-service.js';
import { validateForWrite } from '../src/fhir/validate-write.js';
import { createServer } from '../src/server.js';
import { migrate } from '../src/storage/migrate.js';
import { openPostgres } from '../src/storage/postgres.js';
import { nyScenario } from '../scripts/seed/scenarios/ny.js';
import { flags } from './args.js';
import { databaseUrlFromEnv, median, newSchemaName } from './concord-process.js';

const args = flags(process.argv.slice(2));
const forms = args.num('forms', 300, 1, true);
const rounds = args.num('rounds', 4, 1, true);
const schema = newSchemaName('bench_form');
const db = await openPostgres({ connectionString: databaseUrlFromEnv(), schema, max: 10 });
await migrate(db);
const config = loadConfig({ BASE_URL: 'http://concord.test/fhir', HOST: '127.0.0.1', CONCORD_AUTH: 'off', CONCORD_AUDIT: 'off', RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn' });
const server = await createServer(config, false, db);
try {
  await server.app.ready();
  for (const { label, bundle } of nyScenario()) {
    const res = await server.app.inject({ method: 'POST', url: '/fhir', payload: bundle, headers: { 'content-type': 'application/fhir+json' } });
    if (res.statusCode !== 200) throw new Error(`seeding ${label}: ${res.statusCode} ${res.body}`);
  }
  // The member with the most CareTeams, ServiceRequests, CarePlans and Consents.
  const counted = await db.query<{ member: string; n: number }>(
    `SELECT target_id AS member, count(*)::int AS n FROM search_reference
      WHERE target_type = 'Patient' AND code IN ('subject', 'patient') GROUP BY target_id ORDER BY n DESC, target_id LIMIT 1`,
  );
  const member = counted.rows[0]!.member;
  const repo = server.repository;
  const resources = new ResourceService(repo, { validate: validateForWrite });
  // The service before the snapshot: its reads go to the store one by one, through the caches.
  const separate: Repository = Object.assign(Object.create(repo) as Repository, {
    snapshot: <T>(fn: (r: Parameters<Parameters<Repository['snapshot']>[0]>[0]) => Promise<T>) =>
      fn({ read: (t: string, i: string) => repo.read(t, i), canSee: (a, m) => repo.canSee(a, m), search: (r) => repo.search(r) }),
  });
  const variants = {
    snapshot: new CoordinationFormService(repo, resources, config.searchMaxCount, config.formMaxRecords),
    separate: new CoordinationFormService(separate, resources, config.searchMaxCount, config.formMaxRecords),
  };
  const options = () => ({ baseUrl: 'http://concord.test/fhir', now: new Date() });
  const sources = (await variants.snapshot.form(member, {}, options())).sources.length;
  const results: Record<keyof typeof variants, { wallMs: number[]; cpuMs: number[] }> = { snapshot: { wallMs: [], cpuMs: [] }, separate: { wallMs: [], cpuMs: [] } };
  for (const name of Object.keys(variants) as (keyof typeof variants)[]) for (let i = 0; i < 30; i++) await variants[name].form(member, {}, options());
  for (let round = 0; round < rounds; round++) {
    const order: (keyof typeof variants)[] = round % 2 === 0 ? ['snapshot', 'separate'] : ['separate', 'snapshot'];
    for (const name of order) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < forms; i++) await variants[name].form(member, {}, options());
      const wall = performance.now() - started;
      const used = process.cpuUsage(cpu);
      results[name].wallMs.push(wall / forms);
      results[name].cpuMs.push((used.user + used.system) / 1000 / forms);
    }
  }
  const line = (name: keyof typeof variants) => `${name}: ${median(results[name].wallMs).toFixed(2)} ms wall, ${median(results[name].cpuMs).toFixed(2)} ms process CPU per form`;
  console.log(`member ${member} (${sources} resources shown), ${forms} forms x ${rounds} rounds, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(line('snapshot'));
  console.log(line('separate'));
  console.log(`snapshot / separate wall: ${(median(results.snapshot.wallMs) / median(results.separate.wallMs)).toFixed(2)}`);
} finally {
  await server.close();
  const cleanup = await openPostgres({ connectionString: databaseUrlFromEnv() });
  await cleanup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await cleanup.close();
}

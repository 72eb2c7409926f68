// What an idle LISTEN connection costs PostgreSQL per committing write: writers commit small transactions
// that each send one NOTIFY (as a Concord write does for its change), while K other connections LISTEN on
// channels nobody notifies. PostgreSQL signals every listening backend of the database on every NOTIFY,
// whatever its channel, and each one reads the queue in a transaction of its own, so its CPU per write
// grows with K (src/storage/shared-listener.ts: one listening connection per Concord instance).
//
//   DATABASE_URL=postgres://... npx tsx bench/listener-wake.ts [--listeners 0,1,3,9] [--seconds 4] [--writers 8] [--rounds 2]
import os from 'node:os';
import pg from 'pg';
import { flags } from './args.js';
import { databaseUrlFromEnv, postgresVersion } from './concord-process.js';
import { cpuDelta, postgresCpuUs } from './process-cpu.js';

const f = flags(process.argv.slice(2));
const counts = (f.value('listeners') ?? '0,1,3,9').split(',').map((v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--listeners takes whole numbers, got '${v}'`);
  return n;
});
const seconds = f.num('seconds', 4, 1);
const writerCount = f.num('writers', 8, 1, true);
const rounds = f.num('rounds', 2, 1, true);
const url = databaseUrlFromEnv();
const table = `bench_listener_wake_${process.pid}`;

const connect = async (): Promise<pg.Client> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
};

const admin = await connect();
await admin.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, v text)`);
const writers = await Promise.all(Array.from({ length: writerCount }, connect));
const rows: string[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    for (const k of counts) {
      const listeners = await Promise.all(
        Array.from({ length: k }, async (_, i) => {
          const c = await connect();
          await c.query(`LISTEN bench_listener_wake_idle_${i}`);
          return c;
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      const before = postgresCpuUs();
      const started = performance.now();
      let n = 0;
      await Promise.all(
        writers.map(async (c) => {
          while (performance.now() - started < seconds * 1000) {
            await c.query(`BEGIN; INSERT INTO ${table} (v) VALUES ('x'); SELECT pg_notify('bench_listener_wake', 'Patient/1'); COMMIT`);
            n++;
          }
        }),
      );
      const cpu = cpuDelta(before, postgresCpuUs());
      rows.push(`| ${round + 1} | ${k} | ${((n * 1000) / (performance.now() - started)).toFixed(0)} | ${(cpu / n).toFixed(1)} |`);
      for (const l of listeners) await l.end();
    }
  }
} finally {
  for (const c of writers) await c.end();
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.end();
}
console.log(
  [
    `\`npx tsx bench/listener-wake.ts --listeners ${counts.join(',')} --seconds ${seconds} --writers ${writerCount} --rounds ${rounds}\` on ${os.cpus().length} cores, PostgreSQL ${(await postgresVersion(url)) ?? '?'}, load at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    '',
    '| round | idle listeners | writes/s | PostgreSQL CPU µs per write |',
    '|---|---:|---:|---:|',
    ...rows,
  ].join('\n'),
);

// The floor node-postgres puts under any PostgreSQL read: Node CPU per sequential primary-key read of a
// ~1.5 KB text row, unprepared and prepared. Run: npx tsx bench/pg-driver-floor.ts [--n 20000]
import pg from 'pg';
import { flags } from './args.js';

const n = flags(process.argv.slice(2)).num('n', 20_000, 1, true);
const client = new pg.Client({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
await client.connect();
try {
  await client.query('CREATE TEMP TABLE floor_probe (id text PRIMARY KEY, content text)');
  await client.query("INSERT INTO floor_probe SELECT g::text, repeat('a', 1500) FROM generate_series(1, 1000) g");
  for (const prepare of [false, true]) {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    for (let i = 0; i < n; i++) {
      const text = 'SELECT id, content FROM floor_probe WHERE id = $1';
      const values = [String(1 + (i % 1000))];
      await client.query(prepare ? { name: 'floor_probe', text, values } : { text, values });
    }
    const used = process.cpuUsage(cpu);
    const perQuery = (used.user + used.system) / n;
    process.stdout.write(`${prepare ? 'prepared  ' : 'unprepared'}: ${perQuery.toFixed(1)} µs Node CPU/query, ${((performance.now() - wall) * 1000 / n).toFixed(1)} µs wall/query\n`);
  }
} finally {
  await client.end();
}

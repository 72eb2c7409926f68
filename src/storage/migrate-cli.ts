// `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the embedded store) and exits.
import { loadConfig } from '../config.js';
import { ensureCoordinationFacts } from './coordination-facts.js';
import { migrate } from './migrate.js';
import { describeStore, openDatabase } from './open.js';

const config = loadConfig();
const db = await openDatabase(config);
try {
  const applied = await migrate(db);
  process.stdout.write(`${describeStore(config)}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}\n`);
  const projected = await ensureCoordinationFacts(db);
  if (projected !== undefined) process.stdout.write(`coordination facts rebuilt from ${projected} resources\n`);
} finally {
  await db.close();
}

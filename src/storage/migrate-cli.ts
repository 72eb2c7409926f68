// `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the embedded store) and exits.
import { loadConfig } from '../config.js';
import { ensureCoordinationFacts } from './coordination-facts.js';
import { ensureAccessProjection } from './member-access.js';
import { migrate } from './migrate.js';
import { describeStore, openDatabase } from './open.js';
import { DatabaseConnectError } from './pg-connect.js';

const config = loadConfig();
const db = await openDatabase(config).catch((err: unknown) => {
  // Unreachable or refused: the one-line reason (where, without credentials) rather than a stack.
  if (!(err instanceof DatabaseConnectError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
try {
  const applied = await migrate(db);
  process.stdout.write(`${describeStore(config)}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}\n`);
  const projected = await ensureCoordinationFacts(db);
  if (projected !== undefined) process.stdout.write(`coordination facts rebuilt from ${projected} resources\n`);
  const versions = await ensureAccessProjection(db);
  if (versions !== undefined) process.stdout.write(`access projection rebuilt from ${versions} versions\n`);
} finally {
  await db.close();
}

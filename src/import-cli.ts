// `npm run import -- <files...>`: bulk-loads NDJSON into the database Concord uses (DATABASE_URL, else
// the embedded store in CONCORD_DATA_DIR; stop the server first when using the embedded store, which one
// process at a time may open). See src/import/command.ts for the options.
import { loadConfig } from './config.js';
import { loadDefinitions } from './fhir/definitions.js';
import { parseImportArgs, runImportCommand, UsageError, USAGE } from './import/command.js';
import { ImportFileError } from './import/files.js';
import { openPreparePool } from './import/prepare-pool.js';
import { ensureCoordinationFacts } from './storage/coordination-facts.js';
import { migrate } from './storage/migrate.js';
import { openDatabase } from './storage/open.js';
import { ResourceRepository } from './storage/resource-repository.js';

let args;
try {
  args = parseImportArgs(process.argv.slice(2));
} catch (err) {
  console.error(err instanceof UsageError ? `${err.message}\n${USAGE}` : err);
  process.exit(2);
}
const config = loadConfig();
loadDefinitions();
const db = await openDatabase(config);
const pool = args.workers > 0 ? openPreparePool(args.workers) : undefined;
let code = 0;
try {
  await migrate(db);
  await ensureCoordinationFacts(db);
  // No read cache: this process serves no reads; the server's caches learn of the writes by notification.
  const repository = new ResourceRepository(db, { readCacheEntries: 0, maxIndexRows: config.maxIndexRows, writeTimeoutMs: config.writeTimeoutMs });
  // Announces this process as a writer, so running servers prove cache hits against its commits (docs/adr/0016).
  await repository.init();
  const result = await runImportCommand(args, {
    store: repository.importStore(),
    rules: config.rulesEnabled,
    baseUrls: config.baseUrl ? [config.baseUrl] : [],
    maxJsonDepth: config.maxJsonDepth,
    maxIndexRows: config.maxIndexRows,
    ...(pool ? { prepare: pool.prepare } : {}),
    err: process.stderr,
  });
  code = result.code;
} catch (err) {
  console.error(err instanceof ImportFileError ? err.message : err);
  code = 1;
} finally {
  await pool?.close();
  await db.close();
}
process.exit(code);

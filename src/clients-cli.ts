// `npm run clients -- <command>`: manages the registered clients in the database Concord uses
// (DATABASE_URL, else the embedded store in CONCORD_DATA_DIR; stop the server first when using the
// embedded store, which one process at a time may open).
import { runClientsCommand, USAGE, UsageError } from './auth/clients-command.js';
import { loadConfig } from './config.js';
import { ClientStore } from './storage/auth-store.js';
import { migrate } from './storage/migrate.js';
import { openDatabase } from './storage/open.js';

const config = loadConfig();
const db = await openDatabase(config);
let code = 0;
try {
  await migrate(db);
  const baseUrl = config.baseUrl ?? `http://localhost:${config.port}/fhir`;
  await runClientsCommand(process.argv.slice(2), { clients: new ClientStore(db), baseUrl, out: (line) => console.log(line) });
} catch (err) {
  console.error(err instanceof UsageError ? `${err.message}\n${USAGE}` : err);
  code = err instanceof UsageError ? 2 : 1;
} finally {
  await db.close();
}
process.exit(code);

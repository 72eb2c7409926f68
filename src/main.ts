// Process entry point: `npm start`. Embedded PGlite when DATABASE_URL is unset.
import { loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { createServer, type Server } from './server.js';
import { describeStore } from './storage/open.js';
import { DatabaseConnectError } from './storage/pg-connect.js';

// A start-up failure the operator must fix (configuration, database unreachable) is one log line that
// says what and where, without a stack or credentials; anything unexpected keeps its stack.
let config: Config;
try {
  config = loadConfig();
} catch (err) {
  createLogger('info').fatal(`invalid configuration: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const logger = createLogger(config.logLevel);
let server: Server;
try {
  server = await createServer(config, logger);
} catch (err) {
  if (err instanceof DatabaseConnectError) logger.fatal(err.message);
  else logger.fatal({ err }, 'start-up failed');
  process.exit(1);
}
const address = await server.app.listen({ port: config.port, host: config.host });
logger.info({ url: `${config.baseUrl ?? `${address}/fhir`}`, store: describeStore(config) }, 'Concord FHIR server listening');
if (!config.auth.enabled) {
  logger.warn('authentication is OFF (CONCORD_AUTH=off, loopback only): every local process can read and change all data');
} else if (server.clients && (await server.clients.count()) === 0) {
  // A newcomer's first request: the exact command that registers a local development client.
  const register = `npm run clients -- add --id local-dev --admin --scopes "system/*.cruds" --secret`;
  logger.warn(
    { register, then: 'it prints the secret and a curl that gets a token' },
    config.databaseUrl
      ? `no clients registered yet: run \`${register}\``
      : `no clients registered yet: stop the server (Ctrl-C; the embedded store admits one process), run \`${register}\`, then start it again`,
  );
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: draining requests');
  try {
    await server.close();
    process.exit(0);
  } catch (err) {
    logger.error({ err }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

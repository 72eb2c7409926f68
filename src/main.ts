// Process entry point: `npm start`. Embedded PGlite when DATABASE_URL is unset.
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createServer } from './server.js';
import { describeStore } from './storage/open.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  // One clear line, no stack: the operator has a setting to fix.
  console.error(`Concord cannot start: ${(err as Error).message}`);
  process.exit(1);
}
const logger = createLogger(config.logLevel);
const server = await createServer(config, logger);
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

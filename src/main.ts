// Process entry point: `npm start`. Embedded PGlite when DATABASE_URL is unset.
// First, before any other module loads: the heap growth bound (see heap-growth-at-start.ts).
import './heap-growth-at-start.js';
import { readFile } from 'node:fs/promises';
import { BootstrapError, bootstrapClients, type BootstrapClient, ensureLocalDevClient, localDevCommands, parseBootstrapFile } from './auth/bootstrap.js';
import { isLoopbackHost, loadConfig, type Config } from './config.js';
import { IdleCollection } from './idle-collection.js';
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
// The bootstrap file is checked before the store is opened: a bad file changes nothing.
let wantedClients: BootstrapClient[] | undefined;
if (config.auth.bootstrapClientsFile) {
  const file = config.auth.bootstrapClientsFile;
  try {
    wantedClients = parseBootstrapFile(await readFile(file, 'utf8'), { loopback: isLoopbackHost(config.host) });
  } catch (err) {
    const reason = err instanceof BootstrapError ? err.message : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(err);
    logger.fatal(`CONCORD_BOOTSTRAP_CLIENTS (${file}): ${reason}`);
    process.exit(1);
  }
}
let server: Server;
try {
  server = await createServer(config, logger);
} catch (err) {
  if (err instanceof DatabaseConnectError) logger.fatal(err.message);
  else logger.fatal({ err }, 'start-up failed');
  process.exit(1);
}
if (server.clients && wantedClients) {
  try {
    const { added, updated } = await bootstrapClients(server.clients, wantedClients);
    logger.info({ added, updated }, 'clients from CONCORD_BOOTSTRAP_CLIENTS registered');
  } catch (err) {
    logger.fatal(`CONCORD_BOOTSTRAP_CLIENTS: ${err instanceof BootstrapError ? err.message : String(err)}`);
    await server.close();
    process.exit(1);
  }
}
// A newcomer's first request. On this machine's own embedded store, listening on loopback only, a local
// development admin client is registered for them (before the first request can arrive); its secret
// stays in the data dir, never in the log.
const localStore = !config.databaseUrl && isLoopbackHost(config.host) && config.dataDir !== 'memory://';
const dev = server.clients && localStore ? await ensureLocalDevClient(server.clients, config.dataDir) : undefined;
const address = await server.app.listen({ port: config.port, host: config.host });
const baseUrl = config.baseUrl ?? `${address}/fhir`;
logger.info({ url: baseUrl, store: describeStore(config) }, 'Concord FHIR server listening');
if (!config.auth.enabled) {
  logger.warn('authentication is OFF (CONCORD_AUTH=off, loopback only): every local process can read and change all data');
} else if (server.clients) {
  if (dev) {
    const [token, read] = localDevCommands(baseUrl, dev.secretFile);
    logger.warn(
      { client: 'local-dev', secretFile: dev.secretFile, token, read },
      `${dev.created ? 'registered the local development client local-dev (admin, system/*.cruds)' : 'local development client local-dev'}: paste the two commands printed below to get a token and read with it`,
    );
    // Plain lines a newcomer can paste (the JSON log escapes quotes); the secret stays in its file.
    process.stderr.write(`\n  ${token}\n  ${read}\n\n`);
  } else if ((await server.clients.count()) === 0) {
    const register = `npm run clients -- add --id local-dev --admin --scopes "system/*.cruds" --secret`;
    logger.warn(
      { register, then: 'it prints the secret and a curl that gets a token' },
      config.databaseUrl
        ? `no clients registered yet: run \`${register}\``
        : `no clients registered yet: stop the server (Ctrl-C; the embedded store admits one process), run \`${register}\`, then start it again (or start with HOST=127.0.0.1 to get a local development client)`,
    );
  }
}

// After a burst of work, one full collection once the server is quiet (idle-collection.ts).
const idleCollection = new IdleCollection({ thresholdMb: config.idleGcMb, onCollect: (r) => logger.debug(r, 'idle collection') });
idleCollection.start();

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  idleCollection.stop();
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

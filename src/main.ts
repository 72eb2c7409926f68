// Process entry point: `npm start`. Embedded PGlite when DATABASE_URL is unset.
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createServer } from './server.js';
import { describeStore } from './storage/open.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const server = await createServer(config, logger);
const address = await server.app.listen({ port: config.port, host: config.host });
logger.info({ url: `${config.baseUrl ?? `${address}/fhir`}`, store: describeStore(config) }, 'Concord FHIR server listening');

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

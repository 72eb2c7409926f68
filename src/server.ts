// Composition root: opens the store, applies migrations, wires storage -> FHIR logic -> HTTP.
// main.ts (the process) and the integration tests both build the server through here.
import type { CapabilityStatementRestResourceSearchParam } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { BundleService } from './fhir/bundle-service.js';
import { buildCapabilityStatement } from './fhir/capability.js';
import { CoordinationChecker } from './fhir/coordination-checker.js';
import { bundleGetHandler } from './fhir/get-dispatch.js';
import { SearchService } from './fhir/search-service.js';
import { searchParametersFor } from './fhir/search/index.js';
import { loadDefinitions } from './fhir/definitions.js';
import { ResourceService } from './fhir/resource-service.js';
import { syncConformanceResources } from './fhir/conformance-sync.js';
import { CONCORD_PROFILES, loadConformanceResources } from './fhir/profiles/index.js';
import { validateForWrite } from './fhir/validate-write.js';
import { WriteCheckPool } from './fhir/write-checks-pool.js';
import { AccessTokens } from './auth/access-tokens.js';
import { Authenticator } from './auth/authorize.js';
import type { ClientAdmin } from './auth/clients.js';
import { JwksSource } from './auth/jwks.js';
import { TokenService } from './auth/token-service.js';
import { buildApp } from './http/app.js';
import type { AuthServices } from './http/auth.js';
import { OutboundGuard } from './net/outbound-guard.js';
import { ClientStore, JtiTable, SigningKeyTable } from './storage/auth-store.js';
import type { Database } from './storage/database.js';
import { ensureCoordinationFacts } from './storage/coordination-facts.js';
import { migrate } from './storage/migrate.js';
import { openDatabase } from './storage/open.js';
import { connectFailureReason } from './storage/pg-connect.js';
import { ResourceRepository } from './storage/resource-repository.js';

export interface Server {
  app: FastifyInstance;
  repository: ResourceRepository;
  /** The worker threads that check large writes (ADR 0015). */
  writeChecks: WriteCheckPool;
  /** The client registry, when authentication is on. */
  clients?: ClientAdmin;
  /** Stops accepting requests, drains in-flight ones, then closes the database. */
  close(): Promise<void>;
}

export const VERSION = '0.1.0';

// `_list` has no SearchParameter resource in R4 (it is defined in the search page), so it is added by hand.
const LIST_PARAM: CapabilityStatementRestResourceSearchParam = {
  name: '_list',
  type: 'special',
  documentation: 'Resources that are an entry.item of the List with this id (functional lists such as $current-allergies are not supported)',
};
/** Scopes advertised in .well-known/smart-configuration (any resource type may replace `*`). */
const SCOPES_SUPPORTED = ['system/*.cruds', 'system/*.rs', 'system/*.read', 'system/*.write', 'system/*.*'];
const JTI_PURGE_MS = 10 * 60_000;

async function createAuth(config: Config, db: Database): Promise<{ services: AuthServices; clients: ClientStore; jtis: JtiTable }> {
  const clients = new ClientStore(db);
  await clients.listen();
  const jtis = new JtiTable(db);
  const tokens = new AccessTokens(new SigningKeyTable(db), config.auth.accessTokenTtlSeconds);
  await tokens.init();
  const jwks = new JwksSource(new OutboundGuard({ allowedHosts: config.auth.jwksAllowedHosts }));
  return {
    clients,
    jtis,
    services: {
      authenticator: new Authenticator(tokens, clients),
      tokens: new TokenService({ registry: clients, jwks, jtis, tokens, clientSecrets: config.auth.clientSecrets }),
      scopesSupported: SCOPES_SUPPORTED,
    },
  };
}

export async function createServer(config: Config, logger: Logger | false, database?: Database): Promise<Server> {
  loadDefinitions();
  const db =
    database ??
    (await openDatabase({
      ...config,
      onConnectRetry: (err, attempt, delayMs) => {
        if (logger) logger.warn({ attempt, retryInMs: delayMs, reason: connectFailureReason(err) }, 'database not reachable yet');
      },
    }));
  await migrate(db);
  // The coordination rules read the fact projection: it must match this build's derivation first.
  const started = Date.now();
  const projected = await ensureCoordinationFacts(db);
  if (projected !== undefined && logger) logger.info({ resources: projected, ms: Date.now() - started }, 'coordination facts rebuilt');
  const repository = new ResourceRepository(db, {
    readCacheEntries: config.readCacheEntries,
    maxIndexRows: config.maxIndexRows,
    writeTimeoutMs: config.writeTimeoutMs,
  });
  await repository.init();
  // Large resources are validated and indexed on a worker thread (started on first need).
  const writeChecks = new WriteCheckPool({ threads: config.writeWorkers, idleTimeoutMs: config.writeWorkerIdleMs, maxIndexRows: config.maxIndexRows });
  const service = new ResourceService(repository, {
    validate: validateForWrite,
    offload: writeChecks,
    ...(config.rulesEnabled ? { checker: new CoordinationChecker() } : {}),
    baseUrls: config.baseUrl ? [config.baseUrl] : [],
    searchLimits: config.searchLimits,
  });
  const search = new SearchService(
    repository,
    { maxCount: config.searchMaxCount, defaultCount: 20, complexity: config.searchLimits },
    config.baseUrl ? [config.baseUrl] : [],
  );
  const bundles = new BundleService(service, bundleGetHandler(service, search), config.searchLimits);
  await syncConformanceResources(service);
  // CapabilityStatement.supportedProfile: each Concord profile under the type it constrains.
  const profilesByType = new Map<string, string[]>();
  for (const r of loadConformanceResources()) {
    if (r.resourceType === 'StructureDefinition' && r.kind === 'resource' && r.type && CONCORD_PROFILES.includes(r.url)) {
      profilesByType.set(r.type, [...(profilesByType.get(r.type) ?? []), r.url]);
    }
  }
  const capability = (baseUrl: string) =>
    buildCapabilityStatement({
      baseUrl,
      version: VERSION,
      // Only what the server can evaluate: special parameters (e.g. near) and ones without an
      // expression are answered as unknown, so they are not advertised.
      searchParams: (type) => [
        ...searchParametersFor(type)
          .filter((p) => p.type !== 'special' && (p.expression !== undefined || p.code.startsWith('_')))
          .map((p) => ({
            name: p.code,
            type: p.type as 'string',
            ...(p.url ? { definition: p.url } : {}),
            ...(p.description ? { documentation: p.description } : {}),
          })),
        LIST_PARAM,
      ],
      supportedProfiles: (type) => profilesByType.get(type) ?? [],
      operations: [{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }],
      searchSupported: true,
      transactionsSupported: true,
      ...(config.auth.enabled ? { tokenUrl: `${baseUrl.replace(/\/fhir$/, '')}/auth/token` } : {}),
    });
  const auth = config.auth.enabled ? await createAuth(config, db) : undefined;
  // Expired assertion ids are only kept to refuse replays until expiry; purge them now and then.
  const purge = auth ? setInterval(() => void auth.jtis.purgeExpired(new Date()).catch(() => undefined), JTI_PURGE_MS) : undefined;
  purge?.unref();
  const app = buildApp({
    context: {
      service,
      search,
      bundles,
      maxBundleEntries: config.maxBundleEntries,
      capabilityStatement: capability,
      maxHistoryCount: 1000, ...(config.baseUrl ? { configuredBaseUrl: config.baseUrl } : {}) },
    repository,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    maxJsonDepth: config.maxJsonDepth,
    ...(auth ? { auth: auth.services } : {}),
    security: { corsOrigins: config.auth.corsOrigins, rateLimitPerMinute: config.auth.rateLimitPerMinute },
  });
  return {
    app,
    repository,
    writeChecks,
    ...(auth ? { clients: auth.clients } : {}),
    async close() {
      clearInterval(purge);
      await auth?.clients.close();
      await app.close();
      await writeChecks.close();
      await repository.close();
    },
  };
}

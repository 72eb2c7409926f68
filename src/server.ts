// Composition root: opens the store, applies migrations, wires storage -> FHIR logic -> HTTP.
// main.ts (the process) and the integration tests both build the server through here.
import type { CapabilityStatementRestResourceSearchParam, Resource } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { BundleService } from './fhir/bundle-service.js';
import { buildCapabilityStatement } from './fhir/capability.js';
import { buildOpenApi } from './fhir/openapi.js';
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
import { ensureAccessProjection } from './storage/member-access.js';
import { migrate } from './storage/migrate.js';
import { openDatabase } from './storage/open.js';
import { connectFailureReason } from './storage/pg-connect.js';
import { ResourceRepository } from './storage/resource-repository.js';
import { SqlAuditStore } from './storage/audit-store.js';
import { AuditRecorder } from './audit/recorder.js';
import { loadRegisteredCandidates, SubscriptionStore } from './storage/subscription-store.js';
import { EventRecorder } from './subscriptions/event-recorder.js';
import { CandidateCache } from './subscriptions/candidate-cache.js';
import { withoutSecret } from './subscriptions/subscription-config.js';
import { Dispatcher } from './subscriptions/dispatcher.js';
import { BackportUrls, TOPICS, topicCanonical } from './subscriptions/topics.js';
import type { NotificationContext } from './subscriptions/notification.js';
import { SubscriptionOperations } from './subscriptions/operations.js';
import { subscriptionStatusWriter } from './subscriptions/status-writer.js';
import { WebsocketHub } from './subscriptions/websocket-hub.js';
import { keepAlivePostConnector, WebhookPoster, type PostConnector } from './net/webhook-post.js';
import { UnresolvedHost, type Resolver } from './net/outbound-guard.js';
import { FileDownloader, type DownloadConnector } from './net/fetch-to-file.js';
import { ImportJobRunner } from './import/job-runner.js';
import { openPreparePool } from './import/prepare-pool.js';
import { SqlImportJobStore } from './storage/import-job-store.js';
import { CONCORD_BASE } from './fhir/profiles/urls.js';
import { COORDINATION_FORM_DEFINITION, CoordinationFormService } from './fhir/coordination-form/service.js';

export interface Server {
  app: FastifyInstance;
  repository: ResourceRepository;
  /** The worker threads that check large writes (ADR 0015). */
  writeChecks: WriteCheckPool;
  /** The client registry, when authentication is on. */
  clients?: ClientAdmin;
  /** The registered Subscriptions writes match against (absent with SUBSCRIPTION_CANDIDATE_CACHE=off). */
  candidateCache?: CandidateCache;
  /** Runs $import jobs on this instance (absent with IMPORT_JOBS=off). */
  importRunner?: ImportJobRunner;
  /** Stops accepting requests, drains in-flight ones, then closes the database. */
  close(): Promise<void>;
}

/** Seams for the composition root's callers (tests, and the lead wiring organization visibility). */
export interface ServerOptions {
  /**
   * Whether a Subscription created by `organization` (undefined: created with authentication off or by
   * an administrative client) may still receive payloads about the member, checked at send time.
   * Defaults to allow.
   */
  subscriptionAccess?: (organization: string | undefined, memberId: string | undefined) => Promise<boolean>;
  /** Replaces the webhook connect step (tests record the address instead of connecting). */
  webhookConnector?: PostConnector;
  /** Replaces DNS resolution of webhook hosts (tests). */
  webhookResolver?: Resolver;
  /** Replaces DNS resolution of $import input hosts (tests). */
  importResolver?: Resolver;
  /** Replaces the $import download connect step (tests record the address instead of connecting). */
  importConnector?: DownloadConnector;
  /** Lines per transaction of $import jobs (tests use small batches). */
  importBatchSize?: number;
}

export const VERSION = '0.1.0';
/** The canonical the CapabilityStatement names for $import (the Bulk Data Import draft publishes none). */
const IMPORT_OPERATION = `${CONCORD_BASE}/OperationDefinition/import`;

function isDnsFailure(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code?: unknown }).code : undefined;
  return code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA';
}

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

export async function createServer(config: Config, logger: Logger | false, database?: Database, options: ServerOptions = {}): Promise<Server> {
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
  // Organization-scoped access reads the compartment and relationship projections (docs/adr/0008).
  const accessStarted = Date.now();
  const accessProjected = await ensureAccessProjection(db);
  if (accessProjected !== undefined && logger) logger.info({ versions: accessProjected, ms: Date.now() - accessStarted }, 'access projection rebuilt');
  const repository = new ResourceRepository(db, {
    readCacheEntries: config.readCacheEntries,
    readCacheWithPeers: config.readCacheWithPeers,
    maxIndexRows: config.maxIndexRows,
    writeTimeoutMs: config.writeTimeoutMs,
  });
  // Registered before init: the change listener it hears through starts there.
  const candidateCache = config.subscriptions.candidateCache ? new CandidateCache(loadRegisteredCandidates, repository) : undefined;
  await repository.init();
  const subscriptionStore = new SubscriptionStore(db);
  const webhookGuard = new OutboundGuard({
    allowedHosts: config.subscriptions.allowedHosts,
    ...(options.webhookResolver ? { resolver: options.webhookResolver } : {}),
  });
  const wake: { dispatcher: (subscriptionIds?: readonly string[]) => void; websocket: () => void } = { dispatcher: () => undefined, websocket: () => undefined };
  const recorder = new EventRecorder({
    store: subscriptionStore,
    ...(candidateCache ? { cache: candidateCache } : {}),
    checkEndpoint: async (url) => {
      try {
        await webhookGuard.check(url);
      } catch (err) {
        // A name that does not resolve (yet, or DNS is down) is no forbidden target: it is saved, and the
        // send-time check decides (the handshake fails with the reason if it still does not resolve).
        if (err instanceof UnresolvedHost || isDnsFailure(err)) return;
        throw err;
      }
    },
    bases: config.baseUrl ? [config.baseUrl] : [],
    read: async (type, id) => {
      const v = await repository.read(type, id);
      return v?.content ? (JSON.parse(v.content) as Resource) : undefined;
    },
    onNotified: (subscriptionIds) => {
      wake.dispatcher(subscriptionIds);
      wake.websocket();
    },
    ...(logger ? { onError: (err: unknown) => logger.error({ err }, 'coordination-refused notification not recorded') } : {}),
  });
  // Large resources are validated and indexed on a worker thread (started on first need).
  const writeChecks = new WriteCheckPool({ threads: config.writeWorkers, idleTimeoutMs: config.writeWorkerIdleMs, maxIndexRows: config.maxIndexRows });
  const service = new ResourceService(repository, {
    validate: validateForWrite,
    offload: writeChecks,
    ...(config.rulesEnabled ? { checker: new CoordinationChecker() } : {}),
    baseUrls: config.baseUrl ? [config.baseUrl] : [],
    searchLimits: config.searchLimits,
    hooks: [recorder],
    storedForm: withoutSecret,
  });
  const search = new SearchService(
    repository,
    { maxCount: config.searchMaxCount, defaultCount: 20, complexity: config.searchLimits },
    config.baseUrl ? [config.baseUrl] : [],
  );
  const bundles = new BundleService(service, bundleGetHandler(service, search), config.searchLimits);
  await syncConformanceResources(service);
  const notificationContext = (base: string): NotificationContext => ({
    base,
    loadFocus: async (type, id, version) => {
      const v = await repository.readVersion(type, id, version);
      if (!v) return undefined;
      return { deleted: v.deleted, ...(v.content ? { resource: JSON.parse(v.content) as Resource } : {}) };
    },
    // Re-checked at send time: a subscriber whose organization lost the member gets no payload (docs/adr/0008).
    mayDisclose:
      options.subscriptionAccess ??
      ((organization, memberId) => (organization && memberId ? repository.canSee({ organization, now: Date.now() }, [memberId]) : Promise.resolve(true))),
  });
  const notificationBase = config.baseUrl ?? `http://${config.host}:${config.port}/fhir`;
  // Kept-alive connections per checked address (measured in bench/RESULTS.md); tests may replace it.
  const keptAlive = options.webhookConnector ? undefined : keepAlivePostConnector();
  const poster = new WebhookPoster(webhookGuard, options.webhookConnector ?? keptAlive);
  const dispatcher = config.subscriptions.dispatch
    ? new Dispatcher({
        store: subscriptionStore,
        post: (endpoint, headers, body, timeoutMs) => poster.post(endpoint, headers, body, timeoutMs),
        notification: notificationContext(notificationBase),
        setStatus: subscriptionStatusWriter(service),
        ...config.subscriptions,
        logger: logger === false ? false : logger.child({ component: 'subscriptions' }),
      })
    : undefined;
  if (dispatcher) wake.dispatcher = (subscriptionIds) => dispatcher.wake(subscriptionIds);
  // Sockets bound to this instance deliver from the shared notifications, whichever instance wrote them.
  const websocketHub = new WebsocketHub({
    store: subscriptionStore,
    notification: notificationContext(notificationBase),
    tokenTtlMs: config.subscriptions.wsTokenTtlMs,
    pollMs: config.subscriptions.pollMs,
    logger: logger === false ? false : logger.child({ component: 'subscriptions-websocket' }),
  });
  wake.websocket = () => websocketHub.wake();
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
      systemOperations: [{ name: 'import', definition: IMPORT_OPERATION, documentation: 'Bulk Data Import: NDJSON inputs fetched from URLs, loaded with validation and the coordination rules (docs/import.md)' }],
      instanceOperations: {
        Patient: [
          {
            name: 'coordination-form',
            definition: COORDINATION_FORM_DEFINITION,
            documentation: "The member's Care Planning and Coordination form (GET or POST; parameter date = a day): a FHIR document, or a printable HTML page with Accept: text/html or _format=html (docs/coordination-form.md)",
          },
        ],
      },
      searchSupported: true,
      transactionsSupported: true,
      ...(config.auth.enabled ? { tokenUrl: `${baseUrl.replace(/\/fhir$/, '')}/auth/token` } : {}),
      subscriptions: {
        topicExtension: BackportUrls.topicCanonical,
        topics: TOPICS.map((t) => topicCanonical(baseUrl, t.id)),
        operations: [
          { name: 'status', definition: BackportUrls.statusOperation },
          { name: 'events', definition: BackportUrls.eventsOperation },
          { name: 'get-ws-binding-token', definition: BackportUrls.websocketBinding },
        ],
      },
    });
  const auth = config.auth.enabled ? await createAuth(config, db) : undefined;
  // Expired assertion ids are only kept to refuse replays until expiry; purge them now and then.
  const purge = auth ? setInterval(() => void auth.jtis.purgeExpired(new Date()).catch(() => undefined), JTI_PURGE_MS) : undefined;
  purge?.unref();
  const auditStore = new SqlAuditStore(db);
  // $import jobs: durable in import_job, run by whichever instance claims them (docs/adr/0019).
  const importJobs = new SqlImportJobStore(db);
  const importGuard = new OutboundGuard({ allowedHosts: config.importJobs.allowedHosts, ...(options.importResolver ? { resolver: options.importResolver } : {}) });
  const importWorkers = config.importJobs.workers;
  const importRunner = config.importJobs.run
    ? new ImportJobRunner({
        jobs: importJobs,
        store: repository.importStore(),
        downloader: new FileDownloader(importGuard, { maxBytes: config.importJobs.maxInputBytes, timeoutMs: config.importJobs.fetchTimeoutMs, ...(options.importConnector ? { connector: options.importConnector } : {}) }),
        rules: config.rulesEnabled,
        baseUrls: config.baseUrl ? [config.baseUrl] : [],
        maxJsonDepth: config.maxJsonDepth,
        maxIndexRows: config.maxIndexRows,
        ...(options.importBatchSize !== undefined ? { batchSize: options.importBatchSize } : {}),
        leaseMs: config.importJobs.leaseMs,
        pollMs: config.importJobs.pollMs,
        // Worker threads only while a job runs: an idle server keeps no import threads.
        ...(importWorkers > 0 ? { openPreparer: () => openPreparePool(importWorkers) } : {}),
        ...(config.auditEnabled ? { recordAudit: (record) => auditStore.insert([record]) } : {}),
        logger: logger === false ? false : logger.child({ component: 'import' }),
      })
    : undefined;
  const app = buildApp({
    context: {
      service,
      search,
      bundles,
      maxBundleEntries: config.maxBundleEntries,
      capabilityStatement: capability,
      maxHistoryCount: 1000, ...(config.baseUrl ? { configuredBaseUrl: config.baseUrl } : {}),
      subscriptions: new SubscriptionOperations(subscriptionStore, notificationContext),
      coordinationForms: new CoordinationFormService(repository, service, config.searchMaxCount, config.formMaxRecords),
      websocket: websocketHub },
    repository,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    maxJsonDepth: config.maxJsonDepth,
    ...(auth ? { auth: auth.services } : {}),
    security: { corsOrigins: config.auth.corsOrigins, rateLimitPerMinute: config.auth.rateLimitPerMinute },
    // Relative to whatever host the client used, unless BASE_URL fixes it.
    openApi: () => buildOpenApi(capability(config.baseUrl ?? '/fhir'), config.baseUrl ?? '/fhir'),
    auditStore,
    ...(config.auditEnabled ? { audit: { store: auditStore, recorder: new AuditRecorder(auditStore) } } : {}),
    importJobs: {
      jobs: importJobs,
      journal: repository.importStore().journal,
      guard: importGuard,
      wake: () => importRunner?.wake(),
      ...(config.baseUrl ? { configuredBaseUrl: config.baseUrl } : {}),
    },
  });
  await dispatcher?.start();
  importRunner?.start();
  await websocketHub.start();
  return {
    app,
    repository,
    writeChecks,
    ...(auth ? { clients: auth.clients } : {}),
    ...(importRunner ? { importRunner } : {}),
    ...(candidateCache ? { candidateCache } : {}),
    async close() {
      clearInterval(purge);
      await importRunner?.stop();
      await dispatcher?.stop();
      keptAlive?.close();
      await websocketHub.stop();
      await auth?.clients.close();
      await app.close();
      await writeChecks.close();
      await repository.close();
    },
  };
}

// Configuration comes from the environment only (12-factor); invalid values stop startup with a clear
// message rather than falling back silently.
import { availableParallelism } from 'node:os';
import { DEFAULT_SEARCH_LIMITS, PARSER_MAX_CHAIN_DEPTH, type SearchLimits } from './fhir/search/limits.js';

export interface Config {
  port: number;
  host: string;
  databaseUrl?: string;
  dataDir: string;
  baseUrl?: string;
  logLevel: string;
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxBundleEntries: number;
  searchMaxCount: number;
  /** $coordination-form: the most resources of each record type and of the directory one form reads. */
  formMaxRecords: number;
  /** Search complexity limits (400 too-costly beyond them), checked before any SQL. */
  searchLimits: SearchLimits;
  /** Coordination rules on writes; 'off' only for benchmarks and trusted bulk migrations. */
  rulesEnabled: boolean;
  /** Current versions kept in memory per instance (0 = no read cache). */
  readCacheEntries: number;
  /** READ_CACHE_WITH_PEERS: how a cached read proves it is current while other instances write (docs/adr/0016). */
  readCacheWithPeers: 'sync' | 'database';
  /** Search index rows one parameter may produce for one resource (5x that for all); more is refused (422). */
  maxIndexRows: number;
  /** Worker threads that validate and index large resources off the event loop (0: all inline). */
  writeWorkers: number;
  /** How long an idle write worker lives before it exits (ms). */
  writeWorkerIdleMs: number;
  /** V8 heap growth between full GCs, percent of the live heap (heap-growth.ts); 0 = V8's own choice. */
  heapGrowingPercent: number;
  /** IDLE_GC_MB (src/idle-collection.ts): growth after which a quiet process is collected once; 0 = off. */
  idleGcMb: number;
  /** PostgreSQL: how long start-up retries an unreachable server before giving up (ms). */
  databaseConnectTimeoutMs: number;
  /** PostgreSQL: how long a request waits for a pooled connection before a 503 (ms). */
  dbAcquireTimeoutMs: number;
  /** PostgreSQL: statement timeout of reads and searches (ms; 0 = none). */
  searchTimeoutMs: number;
  /** PostgreSQL: statement timeout inside write transactions (ms; 0 = none). */
  writeTimeoutMs: number;
  /** PostgreSQL: named prepared statements each pooled connection keeps (0 = none). */
  pgPreparedStatements: number;
  auth: AuthConfig;
  /** Every interaction becomes an AuditEvent (src/audit); CONCORD_AUDIT=off only with authentication off. */
  auditEnabled: boolean;
  subscriptions: SubscriptionsConfig;
  importJobs: ImportJobsConfig;
}

/** The Bulk Data $import operation's jobs (src/import/job-runner.ts, docs/adr/0019). */
export interface ImportJobsConfig {
  /** Whether this instance runs import jobs (kick-off and status are answered either way). */
  run: boolean;
  /** Operator allow-list of input hosts (host or host:port) exempt from https-only and address checks. */
  allowedHosts: string[];
  /** Largest input file fetched (bytes). */
  maxInputBytes: number;
  /** A fetch that receives nothing for this long fails (ms). */
  fetchTimeoutMs: number;
  /** How long a job's lease lasts without renewal; another instance takes an expired job over (ms). */
  leaseMs: number;
  /** How often an instance looks for a job without being woken (ms). */
  pollMs: number;
  /** Worker threads parsing and validating lines while a job runs (0: on the main thread). */
  workers: number;
}

/** Subscription delivery (src/subscriptions, docs/subscriptions.md). */
export interface SubscriptionsConfig {
  /** Whether this instance delivers notifications (events are recorded either way). */
  dispatch: boolean;
  /** Writes pick the Subscriptions to match from a per-instance list instead of a query (docs/adr/0011). */
  candidateCache: boolean;
  /** Operator allow-list of webhook hosts (host or host:port) exempt from https-only and address checks. */
  allowedHosts: string[];
  /** How long a failing Subscription is retried before it goes to error (ms). */
  retryBudgetMs: number;
  /** First retry delay (ms); doubles per attempt, with jitter, up to retryMaxDelayMs. */
  retryBaseMs: number;
  retryMaxDelayMs: number;
  /** Default receiver timeout when the Subscription names none (ms). */
  timeoutMs: number;
  /** Acknowledged notifications older than this are purged (ms); undelivered ones never are. */
  retentionMs: number;
  /** How often a dispatcher (and each bound websocket) looks for work without being woken (ms). */
  pollMs: number;
  /** After a POST that emptied a Subscription's backlog, not served again for this long (ms; 0: off). */
  batchWindowMs: number;
  /** The batch window grows with the events of the POST before it, up to this (ms). */
  batchWindowMaxMs: number;
  /**
   * Subscriptions one dispatcher serves at once. More isolate slow receivers better; fewer make a busy
   * dispatcher batch more events per POST (bench/RESULTS.md).
   */
  concurrency: number;
  /** Lifetime of a websocket binding token from $get-ws-binding-token (ms). */
  wsTokenTtlMs: number;
}

/** Access control (SMART Backend Services); see src/auth/. */
export interface AuthConfig {
  /** CONCORD_AUTH=off is accepted only with a loopback HOST. */
  enabled: boolean;
  /** Lifetime of issued access tokens, seconds. */
  accessTokenTtlSeconds: number;
  /** Whether clients registered with a secret may use it (client-confidential-symmetric). */
  clientSecrets: boolean;
  /** Browser origins allowed by CORS; none by default. */
  corsOrigins: string[];
  /** Requests per client (per IP when unauthenticated) per minute and instance; 0 = no limit. */
  rateLimitPerMinute: number;
  /** Operator allow-list of JWKS URL hosts (host or host:port) exempt from https-only and address checks. */
  jwksAllowedHosts: string[];
  /** CONCORD_BOOTSTRAP_CLIENTS: a JSON file of clients registered at startup (src/auth/bootstrap.ts). */
  bootstrapClientsFile?: string;
}

/** 127.0.0.0/8, ::1 and localhost: the only HOSTs that may run with authentication off. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function list(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] ?? '').split(/[\s,]+/).filter((s) => s !== '');
}

/** HEAP_GROWING_PERCENT (src/heap-growth.ts); read on its own too, before the rest of the server loads. */
export function heapGrowingPercent(env: NodeJS.ProcessEnv): number {
  return int(env, 'HEAP_GROWING_PERCENT', 50, 0, 1000);
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  if (n > max) throw new Error(`${name} must be at most ${max}, got '${raw}'`);
  return n;
}

function searchLimits(env: NodeJS.ProcessEnv): SearchLimits {
  const d = DEFAULT_SEARCH_LIMITS;
  return {
    maxParams: int(env, 'SEARCH_MAX_PARAMS', d.maxParams, 1),
    maxOrValues: int(env, 'SEARCH_MAX_OR_VALUES', d.maxOrValues, 1),
    maxContainsTerms: int(env, 'SEARCH_MAX_CONTAINS', d.maxContainsTerms, 0),
    maxSortKeys: int(env, 'SEARCH_MAX_SORT_KEYS', d.maxSortKeys, 1),
    maxIncludes: int(env, 'SEARCH_MAX_INCLUDES', d.maxIncludes, 0),
    maxIterateIncludes: int(env, 'SEARCH_MAX_ITERATE_INCLUDES', d.maxIterateIncludes, 0),
    maxChainDepth: int(env, 'SEARCH_MAX_CHAIN_DEPTH', d.maxChainDepth, 0, PARSER_MAX_CHAIN_DEPTH),
  };
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new Error(`${name} must be 'on' or 'off', got '${raw}'`);
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((values as readonly string[]).includes(raw)) return raw as T;
  throw new Error(`${name} must be one of ${values.map((v) => `'${v}'`).join(', ')}, got '${raw}'`);
}

/** A PostgreSQL URL node-postgres can use; anything else would fail later with a misleading error. */
function databaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.DATABASE_URL;
  if (!raw) return undefined;
  let protocol: string | undefined;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    // The value may hold a password: name the expected form, not what was given.
    throw new Error('DATABASE_URL must be a PostgreSQL URL like postgres://user:password@host:5432/database');
  }
  return raw;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const baseUrl = env.BASE_URL?.replace(/\/+$/, '');
  if (baseUrl !== undefined && baseUrl !== '' && !/^https?:\/\/[^/]+/.test(baseUrl)) {
    throw new Error(`BASE_URL must be an absolute http(s) URL, got '${env.BASE_URL}'`);
  }
  const dbUrl = databaseUrl(env);
  return {
    port: int(env, 'PORT', 8080),
    // Loopback unless told otherwise: a server reachable from other machines is a deliberate choice
    // (the container image sets HOST=0.0.0.0).
    host: env.HOST || '127.0.0.1',
    ...(dbUrl ? { databaseUrl: dbUrl } : {}),
    dataDir: env.CONCORD_DATA_DIR || './data',
    ...(baseUrl ? { baseUrl } : {}),
    logLevel: env.LOG_LEVEL || 'info',
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', 5 * 1024 * 1024, 1024),
    maxJsonDepth: int(env, 'MAX_JSON_DEPTH', 64, 8),
    maxBundleEntries: int(env, 'MAX_BUNDLE_ENTRIES', 1000, 1),
    searchMaxCount: int(env, 'SEARCH_MAX_COUNT', 1000, 1),
    formMaxRecords: int(env, 'FORM_MAX_RECORDS', 500, 1),
    searchLimits: searchLimits(env),
    rulesEnabled: onOff(env, 'CONCORD_RULES', true),
    readCacheEntries: int(env, 'READ_CACHE_ENTRIES', 10_000),
    readCacheWithPeers: oneOf(env, 'READ_CACHE_WITH_PEERS', ['database', 'sync'] as const, 'database'),
    maxIndexRows: int(env, 'MAX_INDEX_ROWS', 10_000, 1),
    // One thread on a 2-core machine (the event loop keeps the other core), at most two.
    writeWorkers: int(env, 'WRITE_WORKERS', Math.max(1, Math.min(2, availableParallelism() - 1)), 0, 16),
    writeWorkerIdleMs: int(env, 'WRITE_WORKER_IDLE_MS', 2_000, 100),
    heapGrowingPercent: heapGrowingPercent(env),
    idleGcMb: int(env, 'IDLE_GC_MB', 32, 0, 1_000_000),
    databaseConnectTimeoutMs: int(env, 'DATABASE_CONNECT_TIMEOUT', 30) * 1000,
    dbAcquireTimeoutMs: int(env, 'DB_ACQUIRE_TIMEOUT_MS', 5000, 1),
    searchTimeoutMs: int(env, 'SEARCH_TIMEOUT_MS', 10_000),
    writeTimeoutMs: int(env, 'WRITE_TIMEOUT_MS', 30_000),
    pgPreparedStatements: int(env, 'PG_PREPARED_STATEMENTS', 200),
    auth: loadAuthConfig(env),
    auditEnabled: loadAuditEnabled(env),
    subscriptions: loadSubscriptionsConfig(env),
    importJobs: {
      run: onOff(env, 'IMPORT_JOBS', true),
      allowedHosts: list(env, 'IMPORT_ALLOWED_HOSTS').map((h) => h.toLowerCase()),
      maxInputBytes: int(env, 'IMPORT_MAX_INPUT_MB', 4096, 1) * 1024 * 1024,
      fetchTimeoutMs: int(env, 'IMPORT_FETCH_TIMEOUT_MS', 60_000, 100),
      leaseMs: int(env, 'IMPORT_LEASE_MS', 30_000, 100),
      pollMs: int(env, 'IMPORT_POLL_MS', 5000, 10),
      workers: int(env, 'IMPORT_WORKERS', 1, 0),
    },
  };
}

function loadSubscriptionsConfig(env: NodeJS.ProcessEnv): SubscriptionsConfig {
  return {
    dispatch: onOff(env, 'SUBSCRIPTION_DISPATCH', true),
    allowedHosts: list(env, 'SUBSCRIPTION_ALLOWED_HOSTS').map((h) => h.toLowerCase()),
    retryBudgetMs: int(env, 'SUBSCRIPTION_RETRY_BUDGET_SECONDS', 72 * 3600, 1) * 1000,
    retryBaseMs: int(env, 'SUBSCRIPTION_RETRY_BASE_MS', 1000, 1),
    retryMaxDelayMs: int(env, 'SUBSCRIPTION_RETRY_MAX_DELAY_MS', 10 * 60_000, 1),
    timeoutMs: int(env, 'SUBSCRIPTION_TIMEOUT_MS', 10_000, 100),
    retentionMs: int(env, 'SUBSCRIPTION_RETENTION_DAYS', 30, 1) * 86_400_000,
    pollMs: int(env, 'SUBSCRIPTION_POLL_MS', 1000, 10),
    batchWindowMs: int(env, 'SUBSCRIPTION_BATCH_WINDOW_MS', 10, 0),
    batchWindowMaxMs: int(env, 'SUBSCRIPTION_BATCH_WINDOW_MAX_MS', 30, 0),
    concurrency: int(env, 'SUBSCRIPTION_WORKERS', 8, 1),
    wsTokenTtlMs: int(env, 'SUBSCRIPTION_WS_TOKEN_SECONDS', 60, 1) * 1000,
    candidateCache: onOff(env, 'SUBSCRIPTION_CANDIDATE_CACHE', true),
  };
}

function loadAuditEnabled(env: NodeJS.ProcessEnv): boolean {
  const enabled = onOff(env, 'CONCORD_AUDIT', true);
  if (!enabled && onOff(env, 'CONCORD_AUTH', true)) {
    throw new Error('CONCORD_AUDIT=off is only allowed with CONCORD_AUTH=off: every authenticated interaction is audited');
  }
  return enabled;
}

function loadAuthConfig(env: NodeJS.ProcessEnv): AuthConfig {
  const enabled = onOff(env, 'CONCORD_AUTH', true);
  const host = env.HOST || '127.0.0.1';
  if (!enabled && !isLoopbackHost(host)) {
    throw new Error(`CONCORD_AUTH=off is only allowed when HOST is a loopback address (127.0.0.1, ::1, localhost), got HOST='${host}'`);
  }
  const bootstrapClientsFile = env.CONCORD_BOOTSTRAP_CLIENTS || undefined;
  if (bootstrapClientsFile && !enabled) throw new Error('CONCORD_BOOTSTRAP_CLIENTS registers clients, which CONCORD_AUTH=off would never use: unset one of them');
  const corsOrigins = list(env, 'CORS_ORIGINS');
  for (const o of corsOrigins) {
    if (!/^https?:\/\/[^/]+$/.test(o)) throw new Error(`CORS_ORIGINS entries must be origins like https://app.example.org, got '${o}'`);
  }
  return {
    enabled,
    // SMART Backend Services recommends a five-minute access token lifetime.
    accessTokenTtlSeconds: int(env, 'ACCESS_TOKEN_TTL_SECONDS', 300, 30),
    clientSecrets: onOff(env, 'CONCORD_CLIENT_SECRETS', true),
    corsOrigins,
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 3000),
    jwksAllowedHosts: list(env, 'JWKS_ALLOWED_HOSTS').map((h) => h.toLowerCase()),
    ...(bootstrapClientsFile ? { bootstrapClientsFile } : {}),
  };
}

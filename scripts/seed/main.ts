// Loads a realistic example per state into a running Concord over its own REST API:
//
//   npm run seed -- --scenario ny|ma|mn|all [--url http://localhost:8080/fhir]
//
// Against a server with authentication on, give an access token (--token or CONCORD_TOKEN) or client
// credentials (--client-id/--client-secret or CONCORD_CLIENT_ID/CONCORD_CLIENT_SECRET, for a client
// registered with --secret): the seed then gets a token from the server's token endpoint itself.
//
// Each scenario is a short ordered list of transaction Bundles of conditional creates, so running the
// seed again changes nothing. A rejected Bundle prints the server's OperationOutcome and exits non-zero.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { ClientAdmin } from '../../src/auth/clients.js';
import type { ScenarioName, SeedBundle } from './fhir.js';
import { SEED_IDENTIFIER_SYSTEM } from './fhir.js';
import { registerCommand, registerSeedClients, type SeededOrganization } from './clients.js';
import { maScenario } from './scenarios/ma.js';
import { mnScenario } from './scenarios/mn.js';
import { nyScenario } from './scenarios/ny.js';

export const SCENARIOS: Record<ScenarioName, () => SeedBundle[]> = { ny: nyScenario, ma: maScenario, mn: mnScenario };
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];
export const DEFAULT_URL = 'http://localhost:8080/fhir';

export interface SeedResult {
  scenario: string;
  bundles: number;
  /** Entries posted. */
  resources: number;
  /** Entries the server created (201) vs. found already present through ifNoneExist (200). */
  created: number;
  existing: number;
  /** Resources posted per type. */
  byType: Record<string, number>;
  /** The Organizations loaded (created or already present), with their server ids. */
  organizations: SeededOrganization[];
}

/** A Bundle the server refused (or a server that could not be reached), with its diagnostics. */
export class SeedError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly outcome?: OperationOutcome,
  ) {
    super(message);
    this.name = 'SeedError';
  }
}

export type Log = (line: string) => void;

/** Posts one scenario's Bundles in order, logging a progress line per Bundle. */
export async function seed(url: string, scenario: ScenarioName, log: Log = console.log, token?: string): Promise<SeedResult> {
  const build = SCENARIOS[scenario];
  if (!build) throw new SeedError(`unknown scenario '${String(scenario)}' (expected one of ${SCENARIO_NAMES.join(', ')})`);
  return load(url, scenario, build(), log, token);
}

/** The scopes the seed asks for: conditional creates need create and search. */
export const SEED_SCOPE = 'system/*.cruds';

/** An access token for client credentials (client_secret_basic) from the token endpoint next to the FHIR base. */
export async function fetchToken(url: string, clientId: string, clientSecret: string): Promise<string> {
  const tokenUrl = `${url.replace(/\/+$/, '').replace(/\/fhir$/, '')}/auth/token`;
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  let res: Response;
  try {
    res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: SEED_SCOPE }).toString(),
    });
  } catch {
    throw new SeedError(`cannot reach the token endpoint ${tokenUrl}`);
  }
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string };
  if (!res.ok || !body.access_token) throw new SeedError(`token request to ${tokenUrl} failed: HTTP ${res.status} ${body.error ?? ''}`.trim());
  return body.access_token;
}

/** Posts the given Bundles in order under a scenario's name (seed() with the scenario's own Bundles). */
export async function load(url: string, scenario: string, bundles: SeedBundle[], log: Log = console.log, token?: string): Promise<SeedResult> {
  const base = url.replace(/\/+$/, '');
  const result: SeedResult = { scenario, bundles: bundles.length, resources: 0, created: 0, existing: 0, byType: {}, organizations: [] };
  log(`[${scenario}] seeding ${base}: ${bundles.length} bundles, ${countEntries(bundles)} resources`);
  for (const [i, { label, bundle }] of bundles.entries()) {
    const response = await post(base, bundle, `[${scenario}] bundle ${i + 1}/${bundles.length} (${label})`, log, token);
    const statuses = (response.entry ?? []).map((e) => e.response?.status ?? '');
    const created = statuses.filter((s) => s.startsWith('201')).length;
    result.created += created;
    result.existing += statuses.length - created;
    for (const [j, e] of (bundle.entry ?? []).entries()) {
      const type = e.resource?.resourceType ?? '?';
      const org = organizationOf(e.resource, response.entry?.[j]?.fullUrl);
      if (org) result.organizations.push(org);
      result.byType[type] = (result.byType[type] ?? 0) + 1;
      result.resources++;
    }
    log(
      `[${scenario}] ${i + 1}/${bundles.length} bundles, ${result.resources} resources` +
        ` (${created} created, ${statuses.length - created} already present): ${label}`,
    );
  }
  log(`[${scenario}] done: ${result.created} created, ${result.existing} already present (${describeTypes(result.byType)})`);
  return result;
}

async function post(base: string, bundle: Bundle, what: string, log: Log, token?: string): Promise<Bundle> {
  let res: Response;
  try {
    res = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', prefer: 'return=minimal', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(bundle),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new SeedError(`${what}: cannot reach ${base}${cause} (is Concord running? set --url or CONCORD_URL)`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const resource = body as (Bundle | OperationOutcome | undefined);
  if (res.ok && resource?.resourceType === 'Bundle') return resource;
  const outcome = resource?.resourceType === 'OperationOutcome' ? resource : undefined;
  log(`${what} was rejected: HTTP ${res.status}`);
  for (const line of describeOutcome(outcome)) log(`  ${line}`);
  if (!outcome) log(`  ${text.slice(0, 2000)}`);
  if (res.status === 401) log('  the server requires authentication: set CONCORD_TOKEN, or CONCORD_CLIENT_ID and CONCORD_CLIENT_SECRET');
  throw new SeedError(`${what} was rejected with HTTP ${res.status}`, res.status, outcome);
}

/** One line per issue: severity, rule (or issue code), expression and diagnostics. */
export function describeOutcome(outcome: OperationOutcome | undefined): string[] {
  return (outcome?.issue ?? []).map((i) => {
    const rule = i.details?.coding?.map((c) => c.code).join(',') || i.code;
    const where = i.expression?.length ? ` at ${i.expression.join(', ')}` : '';
    const text = [i.diagnostics, i.details?.text].filter((t) => !!t).join(' | ');
    return `${i.severity} [${rule}]${where}: ${text}`;
  });
}

/** The seeded Organization behind a response entry's fullUrl (`.../Organization/<id>`). */
function organizationOf(resource: Resource | undefined, fullUrl: string | undefined): SeededOrganization | undefined {
  if (resource?.resourceType !== 'Organization' || !fullUrl) return undefined;
  const id = /\/Organization\/([A-Za-z0-9\-.]{1,64})$/.exec(fullUrl)?.[1];
  const key = resource.identifier?.find((i) => i.system === SEED_IDENTIFIER_SYSTEM)?.value;
  return id && key ? { id, key, name: resource.name ?? key } : undefined;
}

function countEntries(bundles: SeedBundle[]): number {
  return bundles.reduce((n, b) => n + (b.bundle.entry?.length ?? 0), 0);
}

function describeTypes(byType: Record<string, number>): string {
  return Object.entries(byType)
    .map(([t, n]) => `${n} ${t}`)
    .join(', ');
}

// ---- command line ---------------------------------------------------------------------------------------

const USAGE =
  'usage: npm run seed -- --scenario ny|ma|mn|all [--url http://localhost:8080/fhir] [--token <access token> | --client-id <id> --client-secret <secret>] [--register-clients [--clients-file seed-clients.json]]';

export const DEFAULT_CLIENTS_FILE = 'seed-clients.json';

export interface CommandLine {
  scenarios: ScenarioName[];
  url: string;
  token?: string;
  client?: { id: string; secret: string };
  /** Register one client per seeded organization in the database (DATABASE_URL), secrets to this file. */
  registerClients?: { file: string };
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', short: 's' },
      url: { type: 'string', short: 'u' },
      token: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'register-clients': { type: 'boolean' },
      'clients-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) throw new SeedError(USAGE);
  const scenario = values.scenario;
  if (!scenario) throw new SeedError(`--scenario is required\n${USAGE}`);
  const scenarios = scenario === 'all' ? SCENARIO_NAMES : [scenario];
  for (const s of scenarios) {
    if (!SCENARIO_NAMES.includes(s as ScenarioName)) throw new SeedError(`unknown scenario '${s}'\n${USAGE}`);
  }
  const url = values.url ?? (env.CONCORD_URL || DEFAULT_URL);
  if (!/^https?:\/\/[^/]+/.test(url)) throw new SeedError(`--url must be an absolute http(s) URL, got '${url}'`);
  const token = values.token ?? (env.CONCORD_TOKEN || undefined);
  const id = values['client-id'] ?? (env.CONCORD_CLIENT_ID || undefined);
  const secret = values['client-secret'] ?? (env.CONCORD_CLIENT_SECRET || undefined);
  if (Boolean(id) !== Boolean(secret)) throw new SeedError(`give both --client-id and --client-secret (or CONCORD_CLIENT_ID and CONCORD_CLIENT_SECRET)\n${USAGE}`);
  if (values['clients-file'] && !values['register-clients']) throw new SeedError(`--clients-file goes with --register-clients\n${USAGE}`);
  const registerClients = values['register-clients'] ? { file: values['clients-file'] ?? DEFAULT_CLIENTS_FILE } : undefined;
  return { scenarios: scenarios as ScenarioName[], url, ...(token ? { token } : {}), ...(id && secret ? { client: { id, secret } } : {}), ...(registerClients ? { registerClients } : {}) };
}

export async function main(argv: string[], openClients: OpenClientAdmin = openConfiguredClients): Promise<number> {
  let options: CommandLine;
  try {
    options = parseCommandLine(argv);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  try {
    const token = options.token ?? (options.client ? await fetchToken(options.url, options.client.id, options.client.secret) : undefined);
    const organizations = new Map<string, SeededOrganization>();
    for (const scenario of options.scenarios) {
      for (const org of (await seed(options.url, scenario, (line) => console.log(line), token)).organizations) organizations.set(org.key, org);
    }
    await clientsForOrganizations([...organizations.values()], options, (line) => console.log(line), openClients);
    return 0;
  } catch (err) {
    console.error(err instanceof SeedError ? err.message : err);
    return 1;
  }
}

/** The client registry of the server's database, when the seed may open it (PostgreSQL). */
export type OpenClientAdmin = () => Promise<{ admin: ClientAdmin; close(): Promise<void> } | undefined>;

/** PostgreSQL (DATABASE_URL): the server's database; the embedded store is held by the running server. */
const openConfiguredClients: OpenClientAdmin = async () => {
  const { loadConfig } = await import('../../src/config.js');
  const config = loadConfig();
  if (!config.databaseUrl) return undefined;
  const { openDatabase } = await import('../../src/storage/open.js');
  const { migrate } = await import('../../src/storage/migrate.js');
  const { ClientStore } = await import('../../src/storage/auth-store.js');
  const db = await openDatabase(config);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return { admin: new ClientStore(db), close: () => db.close() };
};

/**
 * With --register-clients, registers a client per seeded organization in the server's database.
 * Otherwise, or when the database cannot be opened from here, prints the commands that register them.
 */
async function clientsForOrganizations(organizations: SeededOrganization[], options: CommandLine, log: Log, open: OpenClientAdmin): Promise<void> {
  if (organizations.length === 0) return;
  if (options.registerClients) {
    const clients = await open();
    if (clients) {
      try {
        log('clients of the seeded organizations (client id, organization, name):');
        await registerSeedClients(organizations, clients.admin, options.registerClients.file, log);
      } finally {
        await clients.close();
      }
      return;
    }
    log('--register-clients needs DATABASE_URL: the embedded store is held by the running server.');
  }
  log('to act as a seeded organization, register its client (embedded store: with the server stopped; PostgreSQL: or rerun with --register-clients):');
  for (const org of organizations) log(`  ${registerCommand(org)}    # ${org.name}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}

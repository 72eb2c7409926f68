// Turns the folders into Postman's collection format v2.1, plus the environment and the matching
// CONCORD_BOOTSTRAP_CLIENTS file for a local server.
import { ADMIN, FHIR_JSON, type Actor, type Folder, type Request } from './dsl.js';
import { basics, gettingStarted } from './folders/basics.js';
import { MA_ACO, MA_CP, massachusetts } from './folders/massachusetts.js';
import { MN_COUNTY, MN_MCO, minnesota } from './folders/minnesota.js';
import { NY_HH, NY_PLAN, newYork } from './folders/new-york.js';
import { DEFAULT_WEBHOOK_URL, subscriptions } from './folders/subscriptions.js';

export const FOLDERS: Folder[] = [gettingStarted, basics, newYork, massachusetts, minnesota, subscriptions];

/** Every client the collection acts as, with the id it is registered under. */
export const ACTORS: { actor: Actor; clientId: string }[] = [
  { actor: ADMIN, clientId: 'concord-admin' },
  { actor: NY_PLAN, clientId: 'ny-mltcp-app' },
  { actor: NY_HH, clientId: 'ny-hh-app' },
  { actor: MA_ACO, clientId: 'ma-aco-app' },
  { actor: MA_CP, clientId: 'ma-cp-app' },
  { actor: MN_MCO, clientId: 'mn-mco-app' },
  { actor: MN_COUNTY, clientId: 'mn-county-app' },
];

/** Secrets of the local clients file: usable only on a loopback HOST (src/auth/bootstrap.ts). */
const localSecret = (clientId: string) => `local-only-${clientId}-secret`;

const SCOPES = 'system/*.cruds';

type KV = { key: string; value: string; type?: string };

function oauth2(actor: Actor): { type: 'oauth2'; oauth2: KV[] } {
  const k = actor.key;
  return {
    type: 'oauth2',
    oauth2: [
      { key: 'accessToken', value: `{{${k}Token}}`, type: 'string' },
      { key: 'grant_type', value: 'client_credentials', type: 'string' },
      { key: 'accessTokenUrl', value: '{{tokenUrl}}', type: 'string' },
      { key: 'clientId', value: `{{${k}ClientId}}`, type: 'string' },
      { key: 'clientSecret', value: `{{${k}ClientSecret}}`, type: 'string' },
      { key: 'scope', value: SCOPES, type: 'string' },
      { key: 'client_authentication', value: 'header', type: 'string' },
      { key: 'tokenName', value: `Concord ${k}`, type: 'string' },
      { key: 'addTokenTo', value: 'header', type: 'string' },
      { key: 'headerPrefix', value: 'Bearer', type: 'string' },
    ],
  };
}

function url(target: string): unknown {
  if (target.startsWith('{{') && !target.startsWith('{{baseUrl}}')) return target;
  const raw = target === '' ? '{{baseUrl}}' : `{{baseUrl}}/${target}`;
  const [path = '', query] = target.split(/\?(.*)/s);
  return {
    raw,
    host: ['{{baseUrl}}'],
    path: path === '' ? [] : path.split('/'),
    ...(query
      ? {
          query: query.split('&').map((pair) => {
            const eq = pair.indexOf('=');
            return eq < 0 ? { key: pair, value: null } : { key: pair.slice(0, eq), value: pair.slice(eq + 1) };
          }),
        }
      : {}),
  };
}

function auth(as: Request['as']): unknown {
  if (as === undefined || as === ADMIN) return undefined; // the collection's OAuth 2.0 (administrative client)
  if (as === 'none') return { type: 'noauth' };
  if ('basic' in as) {
    return { type: 'basic', basic: [{ key: 'username', value: `{{${as.basic.key}ClientId}}`, type: 'string' }, { key: 'password', value: `{{${as.basic.key}ClientSecret}}`, type: 'string' }] };
  }
  return oauth2(as);
}

function item(r: Request): unknown {
  const header: KV[] = [];
  if (!r.form) header.push({ key: 'Accept', value: FHIR_JSON });
  if (r.body !== undefined) header.push({ key: 'Content-Type', value: FHIR_JSON });
  for (const [key, value] of Object.entries(r.headers ?? {})) header.push({ key, value });
  const a = auth(r.as);
  const actingFor = r.as && r.as !== 'none' && !('basic' in r.as) && r.as.organization ? `\n\nSent as the ${r.as.label}'s client (acts for \`${r.as.organization}\`).` : '';
  return {
    name: r.name,
    event: [{ listen: 'test', script: { type: 'text/javascript', exec: r.tests.join('\n').split('\n') } }],
    request: {
      ...(a ? { auth: a } : {}),
      method: r.method,
      header,
      ...(r.body !== undefined ? { body: { mode: 'raw', raw: JSON.stringify(r.body, null, 2), options: { raw: { language: 'json' } } } } : {}),
      ...(r.form ? { body: { mode: 'urlencoded', urlencoded: Object.entries(r.form).map(([key, value]) => ({ key, value, type: 'text' })) } } : {}),
      url: url(r.url),
      description: r.description + actingFor,
    },
    response: [],
  };
}

const DESCRIPTION = `Concord is a FHIR R4 server for Medicaid managed long-term services and supports (MLTSS) care coordination. This collection walks through its coordination API: how plans, Health Homes, ACOs, Community Partners and counties write care teams, lead care managers, service splits and service requests, and the refusals each business rule gives. It follows the coordination guide (docs/coordination.md in the repository); the rules are catalogued in docs/rules.md. Developers who do not use Postman can explore the API from the server's OpenAPI description (/fhir/openapi.json) and its interactive page (/docs).

Run it top to bottom against an empty server: later requests reuse ids kept in collection variables by earlier ones.

Authentication: SMART Backend Services (OAuth 2.0 client credentials). Each "Get a token" request exchanges a client id and secret from the environment for a five-minute token; the collection's Authorization (OAuth 2.0, client credentials, secret in the Basic header) can get the same token from Postman's own helper. Requests that act for one organization carry that organization's client and token. To get the clients on a local server:

    CONCORD_BOOTSTRAP_CLIENTS=postman/local-clients.json HOST=127.0.0.1 npm start

(the file's secrets match the environment's and are accepted on a loopback HOST only). Folder 6 (Subscriptions) also needs a webhook receiver at \`{{webhookUrl}}\` that answers 2xx, allow-listed with \`SUBSCRIPTION_ALLOWED_HOSTS\` (the folder says how). \`npm run postman\` runs the whole collection with newman against a fresh server and a receiver of its own.`;

export function buildCollection(): unknown {
  return {
    info: {
      _postman_id: '6b0f9a4e-1c57-4f2e-9d64-3f3c2c9e5a10',
      name: 'Concord: the coordination API',
      description: DESCRIPTION,
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    auth: oauth2(ADMIN),
    item: FOLDERS.map((f) => ({ name: f.name, description: f.description, item: f.items.map(item) })),
    variable: [
      { key: 'tokenUrl', value: 'http://localhost:8080/auth/token', type: 'string' },
      ...ACTORS.map(({ actor }) => ({ key: `${actor.key}Token`, value: '', type: 'string' })),
    ],
  };
}

export function buildEnvironment(): unknown {
  return {
    id: '2d7c0b1e-8f3a-4c55-b1a9-7e6f0d4c3b21',
    name: 'Concord (local)',
    values: [
      { key: 'baseUrl', value: 'http://localhost:8080/fhir', type: 'default', enabled: true },
      { key: 'webhookUrl', value: DEFAULT_WEBHOOK_URL, type: 'default', enabled: true },
      ...ACTORS.flatMap(({ actor, clientId }) => [
        { key: `${actor.key}ClientId`, value: clientId, type: 'default', enabled: true },
        { key: `${actor.key}ClientSecret`, value: localSecret(clientId), type: 'secret', enabled: true },
      ]),
    ],
    _postman_variable_scope: 'environment',
  };
}

/** The clients the collection needs, in the CONCORD_BOOTSTRAP_CLIENTS format. */
export function buildLocalClients(secret: (clientId: string) => string = localSecret): { clients: Record<string, unknown>[] } {
  return {
    clients: ACTORS.map(({ actor, clientId }) => ({
      id: clientId,
      ...(actor.organization ? { organization: actor.organization } : { admin: true }),
      scopes: SCOPES,
      secret: secret(clientId),
    })),
  };
}

// `npm run clients -- <command>`: register and manage clients. The logic works on the ClientAdmin
// interface; src/clients-cli.ts wires it to the database.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ORGANIZATION_REFERENCE, type ClientAdmin, type RegisteredClient } from './clients.js';
import { assertPublicJwks } from './jwks.js';
import { parseScope } from './scopes.js';
import { generateSecret, hashSecret } from './secrets.js';

export const USAGE = `usage: npm run clients -- <command>
  add --id <id> (--organization Organization/<id> | --admin) --scopes "<scopes>" (--jwks-file <file> | --jwks-url <url> | --secret)
  list
  disable --id <id>
  enable --id <id>
  rotate-keys --id <id> (--jwks-file <file> | --jwks-url <url> | --secret)`;

export class UsageError extends Error {}

export interface CommandContext {
  clients: ClientAdmin;
  /** Public URL of the FHIR base, for the ready-to-paste commands. */
  baseUrl: string;
  out: (line: string) => void;
}

const OPTIONS = {
  id: { type: 'string' },
  organization: { type: 'string' },
  admin: { type: 'boolean' },
  scopes: { type: 'string' },
  'jwks-file': { type: 'string' },
  'jwks-url': { type: 'string' },
  secret: { type: 'boolean' },
} as const;

function validScopes(text: string | undefined): string {
  const scopes = (text ?? '').split(/\s+/).filter((s) => s !== '');
  if (scopes.length === 0) throw new UsageError('--scopes is required, e.g. --scopes "system/*.cruds"');
  const bad = scopes.filter((s) => !parseScope(s));
  if (bad.length) throw new UsageError(`unsupported scopes: ${bad.join(' ')} (system/<Type|*>.<cruds> or .read/.write/.*; no ?parameters)`);
  return scopes.join(' ');
}

async function credentials(values: { 'jwks-file'?: string; 'jwks-url'?: string; secret?: boolean }): Promise<{ jwks?: RegisteredClient['jwks']; jwksUrl?: string; secret?: string }> {
  if (values['jwks-file'] && values['jwks-url']) throw new UsageError('give --jwks-file or --jwks-url, not both');
  const out: { jwks?: RegisteredClient['jwks']; jwksUrl?: string; secret?: string } = {};
  if (values['jwks-file']) {
    try {
      out.jwks = assertPublicJwks(JSON.parse(await readFile(values['jwks-file'], 'utf8')));
    } catch (err) {
      throw new UsageError(`--jwks-file: ${(err as Error).message}`);
    }
  }
  if (values['jwks-url']) {
    let url: URL;
    try {
      url = new URL(values['jwks-url']);
    } catch {
      throw new UsageError('--jwks-url is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError('--jwks-url must be https (http only for hosts in JWKS_ALLOWED_HOSTS)');
    out.jwksUrl = url.toString();
  }
  if (values.secret) out.secret = generateSecret();
  if (!out.jwks && !out.jwksUrl && !out.secret) throw new UsageError('give --jwks-file, --jwks-url or --secret');
  return out;
}

function tokenUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/fhir$/, '')}/auth/token`;
}

/** The curl commands that get a token with a secret and make a first request. */
export function firstRequestHelp(baseUrl: string, id: string, secret: string, scopes: string): string[] {
  return [
    `  TOKEN=$(curl -s -u '${id}:${secret}' -d grant_type=client_credentials --data-urlencode 'scope=${scopes}' ${tokenUrl(baseUrl)} | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `  curl -H "Authorization: Bearer $TOKEN" '${baseUrl}/Patient?_count=1'`,
  ];
}

export async function runClientsCommand(argv: string[], ctx: CommandContext): Promise<void> {
  const [command, ...rest] = argv;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: rest, options: OPTIONS, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const id = values.id as string | undefined;
  const needId = () => {
    if (!id) throw new UsageError('--id is required');
    return id;
  };
  switch (command) {
    case 'add': {
      const clientId = needId();
      if (!/^[A-Za-z0-9._~-]{1,128}$/.test(clientId)) throw new UsageError('--id: letters, digits and . _ ~ - only');
      const organization = values.organization as string | undefined;
      if (Boolean(organization) === Boolean(values.admin)) throw new UsageError('give --organization Organization/<id> or --admin (a client bound to no organization)');
      if (organization && !ORGANIZATION_REFERENCE.test(organization)) throw new UsageError('--organization must look like Organization/<id>');
      const scopes = validScopes(values.scopes as string | undefined);
      const creds = await credentials(values);
      if ((await ctx.clients.get(clientId)) !== undefined) throw new UsageError(`client '${clientId}' already exists (use rotate-keys to change its credentials)`);
      await ctx.clients.add({
        clientId,
        scopes,
        enabled: true,
        ...(organization ? { organization } : {}),
        ...(creds.jwks ? { jwks: creds.jwks } : {}),
        ...(creds.jwksUrl ? { jwksUrl: creds.jwksUrl } : {}),
        ...(creds.secret ? { secretHash: await hashSecret(creds.secret) } : {}),
      });
      ctx.out(`registered client '${clientId}' (${organization ?? 'administrative, no organization'}) with scopes ${scopes}`);
      if (creds.secret) {
        ctx.out(`client secret (shown once, stored hashed): ${creds.secret}`);
        ctx.out('get a token and make a first request:');
        for (const line of firstRequestHelp(ctx.baseUrl, clientId, creds.secret, scopes)) ctx.out(line);
      }
      return;
    }
    case 'list': {
      for (const c of await ctx.clients.list()) {
        const keys = c.jwks ? `jwks(${c.jwks.keys.map((k) => k.kid).join(',')})` : c.jwksUrl ? `jwks-url ${c.jwksUrl}` : '';
        ctx.out([c.clientId, c.enabled ? 'enabled' : 'DISABLED', c.organization ?? 'admin', c.scopes, keys, c.secretHash ? 'secret' : ''].filter(Boolean).join('\t'));
      }
      return;
    }
    case 'disable':
    case 'enable': {
      const clientId = needId();
      if (!(await ctx.clients.setEnabled(clientId, command === 'enable'))) throw new UsageError(`no client '${clientId}'`);
      ctx.out(`client '${clientId}' ${command}d${command === 'disable' ? ': its tokens stop working now' : ''}`);
      return;
    }
    case 'rotate-keys': {
      const clientId = needId();
      const creds = await credentials(values);
      const keys = creds.jwks || creds.jwksUrl ? { ...(creds.jwks ? { jwks: creds.jwks } : {}), ...(creds.jwksUrl ? { jwksUrl: creds.jwksUrl } : {}) } : {};
      const ok = await ctx.clients.setCredentials(clientId, { ...keys, ...(creds.secret ? { secretHash: await hashSecret(creds.secret) } : {}) });
      if (!ok) throw new UsageError(`no client '${clientId}'`);
      ctx.out(`client '${clientId}': credentials replaced; assertions signed with the old keys are refused from now on`);
      if (creds.secret) ctx.out(`new client secret (shown once, stored hashed): ${creds.secret}`);
      return;
    }
    default:
      throw new UsageError(command ? `unknown command '${command}'` : 'no command given');
  }
}

// One client per seeded organization, so a developer can act as each of them (e.g. see what a Health
// Home's client may read). Each client gets a generated secret (client-confidential-symmetric, what
// Postman's OAuth 2.0 speaks), stored hashed; the secrets are written to a file readable by the owner
// only, never printed: the output names the clients, their organizations and the file.
import { writeFile } from 'node:fs/promises';
import type { ClientAdmin } from '../../src/auth/clients.js';
import { generateSecret, hashSecret } from '../../src/auth/secrets.js';

/** An Organization the seed loaded: its server id, name and seed key (its seed identifier value). */
export interface SeededOrganization {
  id: string;
  name: string;
  key: string;
}

export interface SeedClientCredentials {
  clientId: string;
  organization: string;
  name: string;
  scopes: string;
  clientSecret: string;
}

/** What seeded clients may ask for; organization-scoped access narrows what each one sees. */
export const SEED_CLIENT_SCOPES = 'system/*.cruds';

export const seedClientId = (key: string): string => `seed-${key}`;

/**
 * Registers a client per organization not yet registered (a client already there keeps its credentials:
 * rotate them with `npm run clients -- rotate-keys --id <id> --secret`) and writes the new ones' secrets
 * to `file` (mode 0600). Returns the newly registered clients.
 */
export async function registerSeedClients(
  organizations: SeededOrganization[],
  admin: ClientAdmin,
  file: string,
  log: (line: string) => void,
): Promise<SeedClientCredentials[]> {
  const created: SeedClientCredentials[] = [];
  for (const org of organizations) {
    const clientId = seedClientId(org.key);
    const organization = `Organization/${org.id}`;
    const existing = await admin.get(clientId);
    if (existing) {
      log(`  ${clientId}\t${organization}\t${org.name}\t(already registered)`);
      continue;
    }
    const clientSecret = generateSecret();
    await admin.add({ clientId, organization, scopes: SEED_CLIENT_SCOPES, enabled: true, secretHash: await hashSecret(clientSecret) });
    created.push({ clientId, organization, name: org.name, scopes: SEED_CLIENT_SCOPES, clientSecret });
    log(`  ${clientId}\t${organization}\t${org.name}`);
  }
  if (created.length) {
    await writeFile(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600 });
    log(`${created.length} client secret(s) written to ${file} (readable by you only; not shown here). A token for one of them:`);
    const first = created[0]!;
    log(`  curl -s -u "${first.clientId}:$(node -pe 'require("./${file}").find((c) => c.clientId === "${first.clientId}").clientSecret')" -d grant_type=client_credentials --data-urlencode 'scope=${SEED_CLIENT_SCOPES}' <server>/auth/token`);
  }
  return created;
}

/** The command that registers a seeded organization's client by hand (embedded store: with the server stopped). */
export function registerCommand(org: SeededOrganization): string {
  return `npm run clients -- add --id ${seedClientId(org.key)} --organization Organization/${org.id} --scopes "${SEED_CLIENT_SCOPES}" --secret`;
}

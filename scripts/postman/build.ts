// Writes the Postman collection, its environment and the matching local clients file into postman/.
// Run: npm run postman:build (the unit test fails when the committed files differ from what this writes).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCollection, buildEnvironment, buildLocalClients } from './collection.js';

export const POSTMAN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'postman');

export const FILES = {
  'Concord.postman_collection.json': buildCollection,
  'Concord.postman_environment.json': buildEnvironment,
  'local-clients.json': () => buildLocalClients(),
} as const;

export const render = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, build] of Object.entries(FILES)) writeFileSync(join(POSTMAN_DIR, name), render(build()));
  console.log(`wrote ${Object.keys(FILES).length} files to postman/`);
}

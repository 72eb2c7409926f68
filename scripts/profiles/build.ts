// Regenerates profiles/*.json from profiles/src/*.json. Run: npx tsx scripts/profiles/build.ts
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConformanceResources } from './generate.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const written = writeConformanceResources(join(root, 'profiles', 'src'), join(root, 'profiles'));
console.log(`wrote ${written.length} conformance resources to profiles/`);

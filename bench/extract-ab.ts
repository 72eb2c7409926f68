// CPU per call of the search index extraction (src/fhir/search/extract.ts) of this tree against another
// checkout's, in one process, block by block in alternating order, so a machine shared with other work loads
// both alike. Checks first that both trees give the same rows (or the same refusal) for every input.
//
//   npx tsx bench/extract-ab.ts --base <other checkout> [--members 200] [--rounds 5]
import { isDeepStrictEqual } from 'node:util';
import { flags } from './args.js';
import { loadBoth, timeAlternated } from './in-process-ab.js';
import { validationCorpora } from './validation-corpora.js';
import type { extractIndexValues } from '../src/fhir/search/extract.js';

interface Tree {
  extractIndexValues: typeof extractIndexValues;
}

const f = flags(process.argv.slice(2));
const baseDir = f.value('base');
if (!baseDir) throw new Error('--base <directory of the other checkout> is required');
const members = f.num('members', 200, 1, true);
const rounds = f.num('rounds', 5, 2, true);

const trees = await loadBoth<Tree>(baseDir, 'fhir/search/extract');

const parsed = (bytes: Buffer[]): Record<string, unknown>[] => bytes.map((b) => JSON.parse(b.toString('utf8')) as Record<string, unknown>);
const raw = validationCorpora(members);
const corpora: Record<string, Record<string, unknown>[]> = { import: parsed(raw.import), patient: parsed(raw.patient), examples: parsed(raw.examples) };

const attempt = (tree: Tree, r: Record<string, unknown>): unknown => {
  try {
    return tree.extractIndexValues(r);
  } catch (err) {
    return { refused: err instanceof Error ? err.message : String(err) };
  }
};
let compared = 0;
for (const inputs of Object.values(corpora)) {
  for (const input of inputs) {
    const a = attempt(trees.base, input);
    const b = attempt(trees.this, input);
    if (!isDeepStrictEqual(a, b)) throw new Error(`different rows for ${JSON.stringify(input).slice(0, 200)}`);
    compared++;
  }
}
process.stdout.write(`same rows from both trees for ${compared} inputs\n`);

timeAlternated(corpora, rounds, (tree, r) => {
  attempt(trees[tree], r);
});

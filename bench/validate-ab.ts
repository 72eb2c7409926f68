// CPU per call of the base R4 validation (src/fhir/validation/validate-resource.ts) of this tree against
// another checkout's, in one process, block by block in alternating order, so a machine shared with other
// work loads both alike. Also checks that both trees give the same issues for every input (valid and invalid:
// the import members, the bench Patient, the official R4 examples and mutants of them).
//
//   npx tsx bench/validate-ab.ts --base <other checkout> [--members 200] [--rounds 5]
import { isDeepStrictEqual } from 'node:util';
import { flags } from './args.js';
import { loadBoth, timeAlternated } from './in-process-ab.js';
import { validationCorpora } from './validation-corpora.js';
import type { validateResource } from '../src/fhir/validation/index.js';

interface Tree {
  validateResource: typeof validateResource;
}

const f = flags(process.argv.slice(2));
const baseDir = f.value('base');
if (!baseDir) throw new Error('--base <directory of the other checkout> is required');
const members = f.num('members', 200, 1, true);
const rounds = f.num('rounds', 5, 2, true);

const trees = await loadBoth<Tree>(baseDir, 'fhir/validation/index');

const parsed = (bytes: Buffer[]): Record<string, unknown>[] => bytes.map((b) => JSON.parse(b.toString('utf8')) as Record<string, unknown>);
const raw = validationCorpora(members);
const examples = parsed(raw.examples);
const corpora: Record<string, unknown[]> = { import: parsed(raw.import), patient: parsed(raw.patient), examples };

// Equivalence first: every input of every corpus, plus invalid mutants of the examples (an unknown key, a
// bad code, an over-long string and an out-of-range integer placed deep in the first array of objects).
const big = 'x'.repeat(1024 * 1024 + 1);
function mutants(r: Record<string, unknown>): unknown[] {
  const out: unknown[] = [];
  const deep = (o: Record<string, unknown>, put: (x: Record<string, unknown>) => void): unknown => {
    const copy = structuredClone(o);
    let at: Record<string, unknown> = copy;
    for (;;) {
      const next = Object.values(at).find((v) => Array.isArray(v) && typeof v[0] === 'object' && v[0] !== null) as Record<string, unknown>[] | undefined;
      if (!next) break;
      at = next[0] as Record<string, unknown>;
    }
    put(at);
    return copy;
  };
  out.push(deep(r, (x) => (x['bogusElement'] = 1)));
  out.push(deep(r, (x) => (x['text'] = big)));
  out.push(deep(r, (x) => (x['id'] = 'bad id!')));
  out.push(deep(r, (x) => ((x['bogus'] = 1), (x['status'] = 'no-such-status'), (x['valueInteger'] = 2 ** 31))));
  out.push({ ...structuredClone(r), language: big, extension: [{ url: 'http://example.org/x', valuePositiveInt: 0 }] });
  return out;
}
let compared = 0;
for (const input of [...corpora.import!, ...corpora.patient!, ...examples, ...examples.flatMap(mutants)]) {
  const a = trees.base.validateResource(input);
  const b = trees.this.validateResource(input);
  if (!isDeepStrictEqual(a, b)) throw new Error(`different issues for ${JSON.stringify(input).slice(0, 200)}:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`);
  compared++;
}
process.stdout.write(`same issues from both trees for ${compared} inputs\n`);

timeAlternated(corpora, rounds, (tree, r) => {
  trees[tree].validateResource(r);
});

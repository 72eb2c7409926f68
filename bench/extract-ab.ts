// CPU per call of the search index extraction (src/fhir/search/extract.ts) of this tree against another
// checkout's, in one process, block by block in alternating order, so a machine shared with other work loads
// both alike. Checks first that both trees give the same rows (or the same refusal) for every input.
//
//   npx tsx bench/extract-ab.ts --base <other checkout> [--members 200] [--rounds 5]
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { flags } from './args.js';
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

async function load(root: string): Promise<Tree> {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const defs = (await import(pathToFileURL(join(root, `src/fhir/definitions.${ext}`)).href)) as { loadDefinitions(): void };
  defs.loadDefinitions();
  return (await import(pathToFileURL(join(root, `src/fhir/search/extract.${ext}`)).href)) as Tree;
}

const trees = { base: await load(resolve(baseDir)), this: await load(resolve(import.meta.dirname, '..')) };

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

const cpu = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const load1 = loadavg()[0]!.toFixed(1);
for (const [name, inputs] of Object.entries(corpora)) {
  const spent = { base: 0, this: 0 };
  let counted = 0;
  // Round 0 warms both trees up and is not counted.
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < inputs.length; i += 200) {
      const block = inputs.slice(i, i + 200);
      const order = (round + i / 200) % 2 ? (['base', 'this'] as const) : (['this', 'base'] as const);
      for (const tree of order) {
        const t0 = cpu();
        for (const r of block) attempt(trees[tree], r);
        if (round > 0) spent[tree] += cpu() - t0;
      }
      if (round > 0) counted += block.length;
    }
  }
  const b = spent.base / counted;
  const t = spent.this / counted;
  process.stdout.write(
    `${name}: ${counted} calls; CPU µs per call base ${b.toFixed(1)}, this ${t.toFixed(1)}, this - base ${(t - b).toFixed(1)} (${(((t - b) / b) * 100).toFixed(1)} %)\n`,
  );
}
process.stdout.write(`load average (1 min) at start of timing ${load1}, at end ${loadavg()[0]!.toFixed(1)}\n`);

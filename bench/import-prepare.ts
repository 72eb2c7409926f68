// The import's per-line work (src/import/prepare.ts: parse, checks, validation, index extraction, members)
// of this tree against another checkout's, in one process, batch by batch in alternating order, so a
// machine shared with other work loads both alike. Also times the structured clone of the results (what a
// prepare worker sends back to the main thread).
//
//   npx tsx bench/import-prepare.ts --base <other checkout> [--members 2000] [--rounds 3]
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { flags } from './args.js';
import { writeMemberNdjson } from './import-ndjson.js';
import { readLines, type RawLine } from '../src/import/ndjson.js';
import type { prepareLine } from '../src/import/prepare.js';
import type { loadDefinitions } from '../src/fhir/definitions.js';

interface PrepareModule {
  prepareLine: typeof prepareLine;
}
interface DefinitionsModule {
  loadDefinitions: typeof loadDefinitions;
}

const f = flags(process.argv.slice(2));
const baseDir = f.value('base');
if (!baseDir) throw new Error('--base <directory of the other checkout> is required');
const members = f.num('members', 2000, 1, true);
const rounds = f.num('rounds', 3, 2, true);

async function load(root: string): Promise<PrepareModule> {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const defs = (await import(pathToFileURL(join(root, `src/fhir/definitions.${ext}`)).href)) as DefinitionsModule;
  defs.loadDefinitions();
  return (await import(pathToFileURL(join(root, `src/import/prepare.${ext}`)).href)) as PrepareModule;
}

const trees = { base: await load(resolve(baseDir)), this: await load(resolve(import.meta.dirname, '..')) };
const dir = join(tmpdir(), `concord-import-prepare-${members}`);
const files = await writeMemberNdjson(dir, members);
const cpu = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const spent = { base: { prepare: 0, clone: 0 }, this: { prepare: 0, clone: 0 } };
let measured = 0;
try {
  // Round 0 warms both trees up (definitions, compiled expressions, JIT) and is not counted.
  for (let round = 0; round < rounds; round++) {
    for (const file of files) {
      const options = { resourceType: basename(file, '.ndjson'), maxJsonDepth: 64, baseUrls: [] };
      const lines: RawLine[] = [];
      for await (const l of readLines(file)) lines.push(l);
      for (let i = 0; i < lines.length; i += 250) {
        const batch = lines.slice(i, i + 250);
        const order = (round + i / 250) % 2 ? (['base', 'this'] as const) : (['this', 'base'] as const);
        for (const tree of order) {
          const t0 = cpu();
          const prepared = batch.map((l) => trees[tree].prepareLine(l.bytes, l.line, l.end, options));
          const t1 = cpu();
          deserialize(serialize(prepared));
          const t2 = cpu();
          if (round > 0) {
            spent[tree].prepare += t1 - t0;
            spent[tree].clone += t2 - t1;
          }
        }
        if (round > 0) measured += batch.length;
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const us = (n: number): string => (n / measured).toFixed(1);
process.stdout.write(
  `${measured} lines (${rounds - 1} counted rounds of ${members} members), CPU µs per line:\n` +
    `  base: prepare ${us(spent.base.prepare)}, structured clone there and back ${us(spent.base.clone)}\n` +
    `  this: prepare ${us(spent.this.prepare)}, structured clone there and back ${us(spent.this.clone)}\n`,
);

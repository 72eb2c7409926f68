// Runs the benchmark suites in bench/ and rewrites each suite's section of bench/RESULTS.md (between
// <!-- NAME:start --> and <!-- NAME:end -->), leaving every other section as it is.
//
//   npm run bench -- [--suite rest-core|search-scale|rules-cost|event-loop|memory|import] [options of the suite, e.g. --store both --duration 10 --connections 10]
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commandFor, parseArgs as parseRestCoreArgs, renderMarkdown, runRestCore } from './rest-core.js';
import { runEventLoopBench } from './event-loop.js';
import { databaseUrlFromEnv } from './concord-process.js';
import * as importBench from './import.js';
import * as memory from './memory.js';
import * as rulesCost from './rules-cost.js';
import * as searchScale from './search-scale.js';

export const RESULTS_FILE = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

interface Suite {
  name: string;
  /** Runs the suite and returns the markdown for its section. */
  run(argv: string[]): Promise<string>;
}

const suites: Suite[] = [
  {
    // NDJSON bulk import of --members bench members into a fresh PostgreSQL schema (DATABASE_URL).
    name: 'import',
    async run(argv) {
      const options = importBench.parseArgs(argv);
      const report = await importBench.runImportBench(options);
      const command = importBench.commandFor(options);
      return importBench.renderMarkdown(report, `${command.replace(/^npx tsx bench\/import\.ts/, 'npm run bench -- --suite import')}\n# or, without RESULTS.md: ${command}`);
    },
  },
  {
    name: 'rest-core',
    async run(argv) {
      const options = parseRestCoreArgs(argv);
      const report = await runRestCore(options);
      const suiteArgs = commandFor(options).replace(/^npx tsx bench\/rest-core\.ts ?/, '');
      return renderMarkdown(report, `npm run bench -- --suite rest-core ${suiteArgs}\n# or, without RESULTS.md: ${commandFor(options)}`);
    },
  },
  {
    // Long (tens of minutes): loads up to --target resources, bounded by --load-minutes of loading.
    // `--from-json FILE` re-renders a saved run instead of running it.
    name: 'search-scale',
    async run(argv) {
      const options = searchScale.parseArgs(argv);
      const report = options.fromJson ? await searchScale.loadReport(options.fromJson) : await searchScale.runSearchScale(options);
      const command = searchScale.commandFor(report.options);
      return searchScale.renderMarkdown(report, `${command.replace(/^npx tsx bench\/search-scale\.ts/, 'npm run bench -- --suite search-scale')}\n# or, without RESULTS.md: ${command}`);
    },
  },
  {
    name: 'rules-cost',
    async run(argv) {
      const options = rulesCost.parseArgs(argv);
      const report = await rulesCost.runRulesCost(options);
      const command = rulesCost.commandFor(options);
      return rulesCost.renderMarkdown(report, `${command.replace(/^npx tsx bench\/rules-cost\.ts/, 'npm run bench -- --suite rules-cost')}\n# or, without RESULTS.md: ${command}`);
    },
  },
  {
    // Worst-case bodies (nested 4 MB string, 150,000 names, ...) while event-loop delay, /healthz and RSS are measured.
    name: 'event-loop',
    run: () => runEventLoopBench(databaseUrlFromEnv()),
  },
  {
    // RSS of the built server (run `npm run build` first) idle, warmed up and after all official R4 examples.
    name: 'memory',
    async run(argv) {
      const report = await memory.runMemory(argv);
      const args = argv.join(' ');
      return memory.renderMarkdown(report, `npm run build && npm run bench -- --suite memory ${args}\n# or, without RESULTS.md: npx tsx bench/memory.ts ${args}`.trimEnd());
    },
  },
];

const HEADER = '# Concord benchmarks\n\nEach section below is rewritten by `npm run bench` (bench/run.ts) for its suite; text outside the markers is kept.\n';

/** Replaces the marked section of `document` (appending it when absent). */
export function replaceSection(document: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from >= 0 && to > from) return document.slice(0, from) + block + document.slice(to + end.length);
  return `${document.trimEnd()}\n\n${block}\n`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--suite');
  const wanted = i >= 0 ? argv[i + 1] : undefined;
  const rest = i >= 0 ? [...argv.slice(0, i), ...argv.slice(i + 2)] : argv;
  const selected = wanted === undefined ? suites : suites.filter((s) => s.name === wanted);
  if (selected.length === 0) throw new Error(`unknown suite '${wanted}'; known: ${suites.map((s) => s.name).join(', ')}`);
  for (const suite of selected) {
    const markdown = await suite.run(rest);
    process.stdout.write(`${markdown}\n`);
    // Re-read just before writing: other suites (or people) may have changed the file meanwhile.
    const current = await readFile(RESULTS_FILE, 'utf8').catch(() => HEADER);
    await writeFile(RESULTS_FILE, replaceSection(current, suite.name, markdown));
    process.stderr.write(`[bench] ${suite.name}: section rewritten in ${RESULTS_FILE}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

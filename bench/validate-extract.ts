// Per-resource CPU of the database-free work of a write or an imported line, by phase: parse (lossless
// JSON + checks), number texts, base R4 validation, Concord profile validation, index extraction.
// Times are process CPU time (robust to a loaded machine). Corpora: the bench import members (bench/import-ndjson.ts), the bench Patient, and the official R4
// examples (top-level resources under 64 KB).
//   npx tsx bench/validate-extract.ts [--members 200] [--rounds 3] [--corpus import|patient|examples]
import type { Resource } from '@medplum/fhirtypes';
import { flags } from './args.js';
import { validationCorpora } from './validation-corpora.js';
import { loadConformanceResources } from '../src/fhir/profiles/index.js';
import { profileUrlsOf, validateAgainstProfile } from '../src/fhir/profiles/index.js';
import { validateResource } from '../src/fhir/validation/index.js';
import { extractIndexValues } from '../src/fhir/search/extract.js';
import { plainNumbers } from '../src/fhir/number-text.js';
import { parseJsonBody } from '../src/http/json-body.js';
import { loadDefinitions } from '../src/fhir/definitions.js';

const f = flags(process.argv.slice(2));
const members = f.num('members', 200, 1, true);
const rounds = f.num('rounds', 3, 1, true);
const only = f.value('corpus');

loadDefinitions();
loadConformanceResources();

const corpora = (): Record<string, Buffer[]> => validationCorpora(members);

// CPU time of the process (ms), not wall time: the machine is shared, and preemption would count otherwise.
function now(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

type Phase = 'parse' | 'numbers' | 'base' | 'profiles' | 'extract';
const PHASES: Phase[] = ['parse', 'numbers', 'base', 'profiles', 'extract'];

function run(lines: Buffer[]): { perPhase: Record<Phase, number>; total: number; n: number } {
  const t: Record<Phase, number> = { parse: 0, numbers: 0, base: 0, profiles: 0, extract: 0 };
  let n = 0;
  for (const bytes of lines) {
    let a = now();
    const body = parseJsonBody(bytes, 64) as Resource;
    let b = now();
    t.parse += b - a;
    a = b;
    const { plain } = plainNumbers(body, body.resourceType);
    b = now();
    t.numbers += b - a;
    a = b;
    const issues = validateResource(plain, { expectedType: plain.resourceType });
    b = now();
    t.base += b - a;
    a = b;
    if (issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) continue;
    for (const url of profileUrlsOf(plain)) validateAgainstProfile(plain, url);
    b = now();
    t.profiles += b - a;
    a = b;
    try {
      extractIndexValues(plain);
    } catch {
      // too many rows: counted like any other
    }
    b = now();
    t.extract += b - a;
    n++;
  }
  return { perPhase: t, total: PHASES.reduce((s, p) => s + t[p], 0), n };
}

const all = corpora();
for (const [name, lines] of Object.entries(all)) {
  if (only && only !== name) continue;
  run(lines.slice(0, 300)); // warm-up: JIT, lazily compiled expressions
  let best: ReturnType<typeof run> | undefined;
  for (let r = 0; r < rounds; r++) {
    const res = run(lines);
    if (!best || res.total < best.total) best = res;
  }
  const us = (ms: number): string => ((ms * 1000) / best!.n).toFixed(0).padStart(6);
  console.log(
    `${name.padEnd(9)} n=${String(best!.n).padStart(5)} total ${us(best!.total)} µs/resource | ` + PHASES.map((p) => `${p} ${us(best!.perPhase[p])}`).join(' | '),
  );
}

// The inputs the equivalence and soundness tests of validation and index extraction run over: every official
// R4 example (and the first resources inside the example Bundles), the Concord fixtures and, where asked, the
// benchmarks' corpora; with a seeded generator and the (container, key) slots that the tests mutate. One
// definition, so that the tests that compare old and new code agree on what "every input" means.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { validationCorpora } from '../../bench/validation-corpora.js';
import * as profileFixtures from './profiles/fixtures.js';
import * as validationFixtures from './validation/fixtures.js';

export type Obj = Record<string, unknown>;
const EXAMPLES_DIR = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

export interface CorpusOptions {
  /** Example files larger than this are left out whole (the whole-spec Bundles take minutes through medplum). */
  maxExampleBytes: number;
  /** How many resources of each example Bundle are taken on their own. */
  entriesPerBundle: number;
  /** The bench corpora: the import members (`validationCorpora(size)`) and the first `patients` bench Patients. */
  bench?: { size: number; patients: number };
}

export function resourceCorpus(options: CorpusOptions): Obj[] {
  const out: Obj[] = [];
  for (const f of readdirSync(EXAMPLES_DIR).filter((x) => x.endsWith('.json') && x !== 'package.json').sort()) {
    const text = readFileSync(join(EXAMPLES_DIR, f), 'utf8');
    const r = JSON.parse(text) as Obj;
    if (text.length <= options.maxExampleBytes) out.push(r);
    const entries = r.resourceType === 'Bundle' && Array.isArray(r.entry) ? (r.entry as { resource?: Obj }[]) : [];
    for (const e of entries.slice(0, options.entriesPerBundle)) if (e.resource && typeof e.resource.resourceType === 'string') out.push(e.resource);
  }
  for (const make of Object.values(profileFixtures)) out.push(make() as unknown as Obj);
  for (const v of Object.values(validationFixtures)) if (typeof v === 'object' && v !== null && 'resourceType' in v) out.push(validationFixtures.copy(v) as unknown as Obj);
  if (options.bench) {
    const raw = validationCorpora(options.bench.size);
    for (const b of [...raw.import, ...raw.patient.slice(0, options.bench.patients)]) out.push(JSON.parse(b.toString('utf8')) as Obj);
  }
  return out;
}

/** A deterministic generator (mulberry32), so a failure reproduces. */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every (container, key) pair inside `value`, depth first. */
export function slots(value: unknown, out: [Obj | unknown[], string | number][] = []): [Obj | unknown[], string | number][] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      slots(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const k of Object.keys(value)) {
      out.push([value as Obj, k]);
      slots((value as Obj)[k], out);
    }
  }
  return out;
}

/** Changes one slot of a mutant: `at[key]` of a container that is an array or not, given a draw in [0, 1). */
export type SlotChange = (at: Record<string | number, unknown>, key: string | number, inArray: boolean, choice: number) => void;

/**
 * `count` seeded mutants of `resource`, each with one to three slot changes (several issues of different
 * checks in one resource test their order). The skeleton is shared; what a change does is each test's own,
 * aimed at what the code under test checks. A slot whose key is in `keep` is never changed itself.
 */
export function mutants(resource: Obj, next: () => number, count: number, keep: readonly string[], change: SlotChange): Obj[] {
  const out: Obj[] = [];
  for (let n = 0; n < count; n++) {
    const copy = structuredClone(resource);
    const all = slots(copy).filter(([, k]) => !keep.includes(k as string));
    if (all.length === 0) break;
    const changes = 1 + Math.floor(next() * 3);
    for (let c = 0; c < changes; c++) {
      const [container, key] = all[Math.floor(next() * all.length)]!;
      const choice = next();
      change(container as Record<string | number, unknown>, key, Array.isArray(container), choice);
    }
    out.push(copy);
  }
  return out;
}

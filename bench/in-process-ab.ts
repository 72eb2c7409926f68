// What the in-process A/B benches (validate-ab.ts, extract-ab.ts) share: loading one module from this tree and
// from another checkout in the same process, and timing both on the same inputs block by block in alternating
// order, so that a machine shared with other work loads both alike.
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export type TreeName = 'base' | 'this';

/** The module `src/<modulePath>` of the checkout at `root`, after that checkout's R4 definitions are loaded. */
export async function loadFromTree<T>(root: string, modulePath: string): Promise<T> {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const defs = (await import(pathToFileURL(join(root, `src/fhir/definitions.${ext}`)).href)) as { loadDefinitions(): void };
  defs.loadDefinitions();
  return (await import(pathToFileURL(join(root, `src/${modulePath}.${ext}`)).href)) as T;
}

/** The same module from the other checkout (`base`) and from this one (`this`). */
export async function loadBoth<T>(baseDir: string, modulePath: string): Promise<Record<TreeName, T>> {
  return { base: await loadFromTree<T>(resolve(baseDir), modulePath), this: await loadFromTree<T>(resolve(import.meta.dirname, '..'), modulePath) };
}

const cpu = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/** Prints the CPU per call of `call` for each tree over each corpus; round 0 warms both up and is not counted. */
export function timeAlternated<I>(corpora: Record<string, I[]>, rounds: number, call: (tree: TreeName, input: I) => void): void {
  const load1 = loadavg()[0]!.toFixed(1);
  for (const [name, inputs] of Object.entries(corpora)) {
    const spent = { base: 0, this: 0 };
    let counted = 0;
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < inputs.length; i += 200) {
        const block = inputs.slice(i, i + 200);
        const order = (round + i / 200) % 2 ? (['base', 'this'] as const) : (['this', 'base'] as const);
        for (const tree of order) {
          const t0 = cpu();
          for (const r of block) call(tree, r);
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
}

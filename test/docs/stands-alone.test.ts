// A clone of the repository alone must explain it: no file refers to a path of a developer's machine or to
// a document outside the repository (guidance is cited by its public title), and every relative Markdown
// link resolves to a file (and heading) of the repository.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCANNED = ['README.md', 'Dockerfile', 'docker-compose.yml', '.ci', 'docs', 'src', 'scripts', 'test', 'bench', 'migrations', 'profiles/src', 'postman'];

/**
 * The repository's own files under SCANNED: what git tracks, plus new files it does not ignore. Ignored
 * files (node_modules, dist, the Node runtime CI unpacks under .ci/) are not the repository's.
 */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', ...SCANNED], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && existsSync(join(ROOT, f)));
}

const all = repositoryFiles();

/** What a file of this repository must not contain. */
const OUTSIDE = [
  { what: 'a path of this machine', re: /(?<![\w.])\/(?:work|tmp|home|Users|root)\/[\w.-]/ },
  { what: 'a path above the repository', re: /\.\.\/shared\// },
  { what: 'a source file name instead of its public title', re: /\b\d{3}_[0-9a-f]{16}\.txt\b/ },
];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]!)));
}

describe('the repository stands alone', () => {
  it('scans the documentation and the code', () => {
    expect(all).toEqual(expect.arrayContaining(['README.md', 'docs/coordination.md', 'docs/rules.md', 'src/main.ts']));
  });

  it('no file refers to a machine path, a path outside the repository or a source by file name', () => {
    const found: string[] = [];
    for (const file of all) {
      const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const { what, re } of OUTSIDE) if (re.test(line)) found.push(`${file}:${i + 1}: ${what}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('every relative Markdown link resolves inside the repository, to an existing heading', () => {
    const broken: string[] = [];
    for (const file of all.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z][a-z+.-]*:/i.test(link)) continue; // a URL (its own kind of reference)
        const [path = '', hash] = link.split('#');
        const target = path ? resolve(dirname(join(ROOT, file)), path) : join(ROOT, file);
        if (relative(ROOT, target).startsWith('..')) broken.push(`${file}: ${link} leaves the repository`);
        else if (!existsSync(target)) broken.push(`${file}: ${link} does not exist`);
        else if (hash && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(hash)) broken.push(`${file}: ${link} has no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the checks catch what they are for', () => {
    const hits = (line: string) => OUTSIDE.filter(({ re }) => re.test(line)).map(({ what }) => what);
    // Assembled from pieces so that this file does not itself contain what it looks for.
    expect(hits(`contract: ..${'/'}shared/design/coordination.md`)).toEqual(['a path above the repository']);
    expect(hits(`see ${'/'}work/shared/design/coordination.md`)).toEqual(['a path of this machine']);
    expect(hits(`dataDir: '${'/'}tmp/x'`)).toEqual(['a path of this machine']);
    expect(hits(`Seed 000_59db47a95e610ce0${'.'}txt: "It will be"`)).toEqual(['a source file name instead of its public title']);
    expect(hits('see docs/adr/0003 and src/coordination/rules/single-lead.ts')).toEqual([]);
    expect(anchor('`single-lead`')).toBe('single-lead');
    expect(anchor('Writing a CareTeam')).toBe('writing-a-careteam');
  });
});

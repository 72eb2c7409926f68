// How `npm start` launches the server (package.json's start script), so a benchmark that starts the built
// server itself measures the same launch: the environment assignments before `node` and node's own flags,
// with `${VAR:-default}` expanded as sh would (this process's environment first, else the default).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Launch {
  env: Record<string, string>;
  nodeArgs: string[];
}

export function npmStartLaunch(root: string, env: NodeJS.ProcessEnv = process.env): Launch {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const start = scripts.start ?? '';
  const command = start.slice(start.lastIndexOf('&&') + 2).trim();
  const expand = (word: string): string => word.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, name: string, fallback: string) => env[name] ?? fallback);
  const words = command.split(/\s+/);
  const node = words.indexOf('node');
  if (node < 0) throw new Error(`npm start does not launch node: ${command}`);
  const assignments = Object.fromEntries(words.slice(0, node).map((w) => {
    const i = w.indexOf('=');
    return [w.slice(0, i), expand(w.slice(i + 1))];
  }));
  const nodeArgs = words.slice(node + 1).filter((w) => w.startsWith('--')).map(expand);
  return { env: assignments, nodeArgs };
}

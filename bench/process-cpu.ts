// CPU a process (a PostgreSQL backend, a server child) has used so far, read from /proc: the benches that
// attribute PostgreSQL's share of a write read it per backend pid before and after a measured block.
import { readFileSync } from 'node:fs';

/** User + system CPU (µs) of `pid` so far; undefined when the process is gone. */
export function processCpuUs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which may itself hold spaces and parentheses; utime and stime are in
  // clock ticks (100 per second on Linux).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
}

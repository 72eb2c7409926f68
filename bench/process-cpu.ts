// CPU a process (a PostgreSQL backend, a server child) has used so far, read from /proc: the benches that
// attribute PostgreSQL's share of a write read it per backend pid before and after a measured block.
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * User + system CPU (µs) so far of each PostgreSQL server process on this machine (backends and the
 * background processes: WAL writer, checkpointer, ...), by pid, for benches that count all of the
 * database's work, whichever process does it. Take the difference of two snapshots with cpuDelta.
 */
export function postgresCpuUs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== 'postgres' && !comm.startsWith('postgres:')) continue;
    const cpu = processCpuUs(Number(entry));
    if (cpu !== undefined) out.set(Number(entry), cpu);
  }
  return out;
}

/**
 * CPU spent between two snapshots by pid: a process that appeared counts in full; one that exited in
 * between is left out (its last moments are lost, never counted negative).
 */
export function cpuDelta(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const [pid, t] of after) total += t - (before.get(pid) ?? 0);
  return total;
}

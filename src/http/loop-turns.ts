// Runs queued CPU-heavy callbacks one per event-loop turn, in order. Request bodies that finish arriving
// together end in the same poll phase; parsed there back to back (six 4 MB bodies: one ~230 ms block),
// they starve timers and every other socket. Queued here, the loop serves those between two of them.
const queue: (() => void)[] = [];

function runNext(): void {
  try {
    queue.shift()?.();
  } finally {
    // An immediate set during the check phase runs in the next loop turn, after timers and I/O.
    if (queue.length > 0) setImmediate(runNext);
  }
}

export function oncePerLoopTurn(fn: () => void): void {
  queue.push(fn);
  if (queue.length === 1) setImmediate(runNext);
}

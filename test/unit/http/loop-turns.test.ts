// Queued heavy callbacks (large body parses) run one per event-loop turn, in order: whatever the loop
// scheduled meanwhile runs between two of them.
import { expect, it } from 'vitest';
import { oncePerLoopTurn } from '../../../src/http/loop-turns.js';

it('runs queued callbacks in order, each in a later loop turn than what the previous one scheduled', async () => {
  const log: string[] = [];
  await new Promise<void>((done) => {
    oncePerLoopTurn(() => {
      log.push('a');
      setImmediate(() => log.push('scheduled by a'));
    });
    oncePerLoopTurn(() => {
      log.push('b');
      setImmediate(() => log.push('scheduled by b'));
    });
    oncePerLoopTurn(() => {
      log.push('c');
      done();
    });
  });
  // All three in one turn would give a, b, c, scheduled by a, ...
  expect(log).toEqual(['a', 'scheduled by a', 'b', 'scheduled by b', 'c']);
});

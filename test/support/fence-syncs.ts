// Counts the read fence's syncs (docs/adr/0016) at the driver: every `!sync` payload any client of this
// process sends while `act` runs, whichever repository or connection sends it.
import { watchStatements } from '../../bench/statement-counter.js';

export async function syncsSent(act: () => Promise<void>): Promise<number> {
  let syncs = 0;
  await watchStatements(({ values }) => {
    const payload = values?.[1];
    if (typeof payload === 'string' && payload.startsWith('!sync')) syncs++;
  }, act);
  return syncs;
}

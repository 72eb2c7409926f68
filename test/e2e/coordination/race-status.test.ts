// 409 or 422 for a rule rejection: a loser is told 409 `conflict` exactly when the resource it collides
// with was committed after the loser's request arrived, even when the winner stamped its lastUpdated
// before that (it stamps it when it writes its rows, then runs the rules and commits). The winner is
// held between its write and its commit by a table lock a test connection takes, so the order of
// events is fixed: winner writes, loser arrives, winner commits, loser is judged.
import type { OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createServer, type Server } from '../../../src/server.js';
import type { Database } from '../../../src/storage/database.js';
import { careTeam, ORGS, PEOPLE } from '../../unit/coordination/builders.js';
import { defaultBackend, openTestDatabase } from '../../support/db.js';
import { testConfig, type TestServer } from '../../support/server.js';
import { member, post, seed } from './support.js';

const onPostgres = defaultBackend() === 'postgres';
let db: Database;
let s: TestServer;

beforeAll(async () => {
  if (!onPostgres) return;
  db = await openTestDatabase('postgres', { max: 10 });
  const server: Server = await createServer(testConfig(), false, db);
  await server.app.ready();
  s = { ...server, db, request: (o) => server.app.inject(o), json: (r) => JSON.parse(r.body) as never };
  await seed(s);
});
afterAll(async () => {
  await s?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until a transaction of this schema waits for the resource table (the held winner). */
async function untilBlockedOnResource(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const res = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_locks WHERE NOT granted AND relation = 'resource'::regclass`);
    if (Number(res.rows[0]?.n) > 0) return;
    await sleep(25);
  }
  throw new Error('the winner never reached its write');
}

describe.skipIf(!onPostgres)('409 when the winner committed after the loser arrived (PostgreSQL)', () => {
  it('a loser arriving after the winner wrote, but before it committed, is told 409 conflict', async () => {
    const m = await member(s, 'race-held');
    const lead = (who: keyof typeof PEOPLE) => careTeam('x', [{ member: PEOPLE[who], onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] }], { patient: m });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    // Blocks every insert into resource (reads go on) until released.
    const holder = db.transaction(async (q) => {
      await q.query('LOCK TABLE resource IN EXCLUSIVE MODE');
      locked();
      await released;
    });
    await isLocked;
    const winner = post(s, lead('nyRn'));
    await untilBlockedOnResource();
    const loser = post(s, lead('nySw'));
    await sleep(100);
    release();
    await holder;
    const [w, l] = await Promise.all([winner, loser]);
    expect(w.statusCode, w.body).toBe(201);
    expect(l.statusCode, l.body).toBe(409);
    const issue = (JSON.parse(l.body) as OperationOutcome).issue?.[0];
    expect(issue?.code).toBe('conflict');
    expect(issue?.details?.coding?.[0]?.code).toBe('single-lead');
  });

  it('a loser arriving after the winner committed is told 422', async () => {
    const m = await member(s, 'race-after');
    const lead = (who: keyof typeof PEOPLE) => careTeam('x', [{ member: PEOPLE[who], onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp] }], { patient: m });
    const first = await post(s, lead('nyRn'));
    expect(first.statusCode, first.body).toBe(201);
    const second = await post(s, lead('nySw'));
    expect(second.statusCode, second.body).toBe(422);
    expect((JSON.parse(second.body) as OperationOutcome).issue?.[0]?.code).toBe('business-rule');
  });
});

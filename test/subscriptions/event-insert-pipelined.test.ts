// The event insert of a write rides in the transaction's pipeline: it is sent and not waited for, and the
// write's last statements and COMMIT go out behind it (no round trip of its own). Its failure is still the
// transaction's: the write answers with an error and nothing of it commits, events or resource, on both
// stores; once the fault is gone the next write's events are numbered on without a gap.
import type { EpisodeOfCare, OperationOutcome } from '@medplum/fhirtypes';
import { countStatements } from '../../bench/statement-counter.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectAccepted, put } from '../e2e/coordination/support.js';
import { postgresUrl, storageBackends } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { putSubscription, stored } from './support.js';

const episode = (id: string, patient: string, status: EpisodeOfCare['status'] = 'active'): EpisodeOfCare => ({
  resourceType: 'EpisodeOfCare',
  id,
  status,
  patient: { reference: `Patient/${patient}` },
  period: { start: '2025-01-01' },
});

async function eventRows(s: TestServer): Promise<number> {
  return (await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM subscription_event')).rows[0]!.n;
}

describe.each(storageBackends())('event insert on %s', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(backend, { SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' });
    for (const id of ['pipe-m1', 'pipe-m2']) expectAccepted(await put(s, { resourceType: 'Patient', id }));
    expectAccepted(await putSubscription(s, { id: 'pipe-sub', topic: 'enrolment', filters: ['EpisodeOfCare?patient=Patient/pipe-m1'] }));
  });
  afterAll(async () => {
    await s.close();
  });
  afterEach(async () => {
    await s.db.exec('DROP TRIGGER IF EXISTS pipe_fail ON subscription_event; DROP FUNCTION IF EXISTS pipe_fail()');
  });

  it('a failing event insert rolls the write back over HTTP: an error, the previous version kept, no event, no number used', async () => {
    expectAccepted(await put(s, episode('pipe-e1', 'pipe-m1')));
    expect((await stored(s, 'pipe-sub')).map((e) => `${e.eventNumber} ${e.focusId}/${e.focusVersion}`)).toEqual(['1 pipe-e1/1']);
    const rowsBefore = await eventRows(s);
    // Injected in the database, so the failure arrives the way a real one would: as the insert's result,
    // after the statements behind it (and COMMIT) were already sent.
    await s.db.exec(`CREATE FUNCTION pipe_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected event insert failure'; END $$;
      CREATE TRIGGER pipe_fail BEFORE INSERT ON subscription_event FOR EACH ROW EXECUTE FUNCTION pipe_fail()`);
    const res = await put(s, episode('pipe-e1', 'pipe-m1', 'finished'));
    expect(res.statusCode, res.body).toBe(500);
    expect((JSON.parse(res.body) as OperationOutcome).resourceType).toBe('OperationOutcome');
    const current = await s.request({ method: 'GET', url: '/fhir/EpisodeOfCare/pipe-e1' });
    expect(current.statusCode).toBe(200);
    expect(JSON.parse(current.body)).toMatchObject({ status: 'active', meta: { versionId: '1' } });
    expect((await s.request({ method: 'GET', url: '/fhir/EpisodeOfCare/pipe-e1/_history/2' })).statusCode).toBe(404);
    expect(await eventRows(s)).toBe(rowsBefore);
    // A write that records no event is untouched by the fault.
    expectAccepted(await put(s, episode('pipe-e2', 'pipe-m2')));

    await s.db.exec('DROP TRIGGER pipe_fail ON subscription_event; DROP FUNCTION pipe_fail()');
    expectAccepted(await put(s, episode('pipe-e1', 'pipe-m1', 'finished')));
    expect((await stored(s, 'pipe-sub')).map((e) => `${e.eventNumber} ${e.focusId}/${e.focusVersion}`)).toEqual(['1 pipe-e1/1', '2 pipe-e1/2']);
  });

  it.runIf(backend === 'postgres' && postgresUrl())('costs a statement but no round trip: the writes behind it and COMMIT travel with it', async () => {
    const counter = countStatements();
    try {
      // Warm: the candidate list held, every statement text prepared.
      for (let i = 0; i < 3; i++) {
        expectAccepted(await put(s, episode('pipe-w1', 'pipe-m1', i % 2 ? 'active' : 'finished')));
        expectAccepted(await put(s, episode('pipe-w2', 'pipe-m2', i % 2 ? 'active' : 'finished')));
      }
      const measure = async (id: string, patient: string): Promise<{ statements: number; trips: number }> => {
        counter.reset();
        counter.counting = true;
        for (let i = 0; i < 4; i++) expectAccepted(await put(s, episode(id, patient, i % 2 ? 'active' : 'finished')));
        counter.counting = false;
        return { statements: counter.statements / 4, trips: counter.trips / 4 };
      };
      const rowsBefore = await eventRows(s);
      const without = await measure('pipe-w2', 'pipe-m2'); // the Subscription's filter does not match: no event
      const rowsBetween = await eventRows(s);
      const withEvent = await measure('pipe-w1', 'pipe-m1');
      expect(rowsBetween).toBe(rowsBefore);
      expect(await eventRows(s)).toBe(rowsBetween + 4);
      expect(withEvent.statements).toBe(without.statements + 1);
      expect(withEvent.trips).toBe(without.trips);
    } finally {
      counter.stop();
    }
  });
});

// The create's SQL floor (bench/create-sql-replay.ts, `bench/rest-core.ts --sql-floor`) is only a floor if
// its replay stores what a create stores: a new resource with its own id, its index rows (found by
// search) and its AuditEvent, every time; and, without the AuditEvent, the same less the audit row.
// PostgreSQL only: the capture wraps node-postgres' client.
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureOneTransaction, replay, withoutAudit, type Capture } from '../../bench/create-sql-replay.js';
import { benchPatient } from '../../bench/fixtures.js';
import { postgresUrl } from '../support/db.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';

describe.runIf(postgresUrl())('the create SQL replay on postgres', () => {
  let s: TestServer;
  let capture: Capture;
  const count = async (sql: string): Promise<number> => (await s.db.query<{ n: number }>(sql)).rows[0]!.n;
  const patients = (): Promise<number> => count(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`);
  // Creates' AuditEvents only: the searches below are audited too.
  const audits = (): Promise<number> => count(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'C'`);
  const found = async (): Promise<number> => {
    // The bench Patient's family name, as every replay stores it: found only through the replayed index rows.
    const family = (benchPatient(0) as unknown as Patient).name?.[0]?.family ?? '';
    expect(family).not.toBe('');
    const res = await s.request({ method: 'GET', url: `/fhir/Patient?family=${encodeURIComponent(family)}&_summary=count`, headers: { accept: FHIR_JSON } });
    expect(res.statusCode, res.body).toBe(200);
    return (JSON.parse(res.body) as Bundle).total ?? -1;
  };

  beforeAll(async () => {
    s = await startTestServer('postgres');
    capture = await captureOneTransaction(async () => {
      const res = await s.request({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': FHIR_JSON }, payload: JSON.stringify(benchPatient(0)) });
      expect(res.statusCode, res.body).toBe(201);
    });
  });
  afterAll(async () => {
    await s.close();
  });

  it('captures one transaction holding the version write and the AuditEvent insert', () => {
    expect(capture).toHaveLength(1);
    const step = capture[0]!;
    expect('transaction' in step && step.transaction.some((st) => /INSERT INTO audit_event/.test(st.text))).toBe(true);
  });

  it('a statement of something else in the window (a background poll): the create is captured again', async () => {
    let first = true;
    const again = await captureOneTransaction(async () => {
      if (first) await s.db.query('SELECT 1 AS background');
      first = false;
      const res = await s.request({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': FHIR_JSON }, payload: JSON.stringify(benchPatient(0)) });
      expect(res.statusCode, res.body).toBe(201);
    });
    expect(first).toBe(false);
    expect(again).toHaveLength(1);
    expect('transaction' in again[0]!).toBe(true);
  });

  it('each replay stores one more Patient with a fresh id, searchable, and one more AuditEvent', async () => {
    const [p0, a0, f0] = [await patients(), await audits(), await found()];
    for (let i = 0; i < 3; i++) await replay(s.db, capture);
    expect(await patients()).toBe(p0 + 3);
    expect(await audits()).toBe(a0 + 3);
    expect(await found()).toBe(f0 + 3);
  });

  it('without the AuditEvent: the Patient and its index rows, no audit row', async () => {
    const [p0, a0, f0] = [await patients(), await audits(), await found()];
    await replay(s.db, withoutAudit(capture));
    expect(await patients()).toBe(p0 + 1);
    expect(await audits()).toBe(a0);
    expect(await found()).toBe(f0 + 1);
  });
});

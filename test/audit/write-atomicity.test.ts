// A write and its AuditEvent commit together or not at all; a refused write has its refused AuditEvent,
// and a coordination-rule refusal records what it disclosed about another organization's record.
import type { AuditEvent } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, ORGS, ROLES } from '../unit/coordination/builders.js';
import { clean, member, put, seed, transaction } from '../e2e/coordination/support.js';
import { FHIR_JSON, type TestServer } from '../support/server.js';
import { storageBackends } from '../support/db.js';
import { entityRefs, eventsFor, startAuditFixture, subtypeOf, withToken, type AuditFixture } from './support.js';

let f: AuditFixture;
let admin: TestServer;
beforeAll(async () => {
  f = await startAuditFixture();
  admin = withToken(f.server, f.adminToken);
});
afterAll(async () => f.server.close());

describe('a write and its AuditEvent commit together', () => {
  it('a write that fails at commit, after its AuditEvent was inserted, leaves neither; its failure is audited', async () => {
    // The resource row's check fires at COMMIT, i.e. after the AuditEvent was inserted in the transaction:
    // an event stored outside the write's transaction would survive it.
    await f.server.db.exec(`
      CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced failure at commit'; END $$;
      CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT OR UPDATE ON resource DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.id = 'doomed') EXECUTE FUNCTION fail_at_commit();`);
    try {
      const res = await f.asPlan({ method: 'PUT', url: '/fhir/Patient/doomed', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, id: 'doomed' } });
      expect(res.statusCode).toBeGreaterThanOrEqual(500);
      const stored = await f.server.db.query(`SELECT 1 FROM resource WHERE resource_type = 'Patient' AND id = 'doomed'`);
      expect(stored.rows).toEqual([]);
      // No success event survived; the failed write is recorded on its own after the rollback (a 5xx
      // answer does not wait for its event, so it may land just after the answer).
      await expect.poll(async () => (await eventsFor(f.server, 'Patient/doomed')).map((e) => [subtypeOf(e), e.outcome])).toEqual([['update', '8']]);
    } finally {
      await f.server.db.exec('DROP TRIGGER fail_at_commit ON resource; DROP FUNCTION fail_at_commit();');
    }
    // Without the forced failure the same write commits with its event.
    const ok = await f.asPlan({ method: 'PUT', url: '/fhir/Patient/doomed', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, id: 'doomed' } });
    expect(ok.statusCode).toBe(201);
    expect((await eventsFor(f.server, 'Patient/doomed')).map((e) => [subtypeOf(e), e.outcome])).toEqual([['update', '8'], ['update', '0']]);
  });

  it('when the AuditEvent insert itself fails, the write is rolled back too', async () => {
    await f.server.db.exec(`
      CREATE FUNCTION refuse_write_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit insert refused'; END $$;
      CREATE TRIGGER refuse_write_audit BEFORE INSERT ON audit_event FOR EACH ROW WHEN ('Patient/unrecorded' = ANY(NEW.entity_refs)) EXECUTE FUNCTION refuse_write_audit();`);
    try {
      const res = await f.asPlan({ method: 'PUT', url: '/fhir/Patient/unrecorded', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, id: 'unrecorded' } });
      expect(res.statusCode).toBeGreaterThanOrEqual(500);
      expect((await f.server.db.query(`SELECT 1 FROM resource WHERE id = 'unrecorded'`)).rows).toEqual([]);
    } finally {
      await f.server.db.exec('DROP TRIGGER refuse_write_audit ON audit_event; DROP FUNCTION refuse_write_audit();');
    }
  });
});

// The AuditEvent of a write is inserted in the write's transaction: refused, it takes the write with it,
// for a create, an update and a delete, on both stores; allowed, the event names the version written.
describe.each(storageBackends())('a write whose AuditEvent is refused stores nothing, on %s', (backend) => {
  let g: AuditFixture;
  beforeAll(async () => {
    g = await startAuditFixture(backend);
  });
  afterAll(async () => g.server.close());

  const patient = (id: string, family: string) => ({ resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, id, name: [{ family }] });
  const current = async (id: string) => (await g.server.db.query<{ version_id: number; deleted: boolean }>(`SELECT version_id, deleted FROM resource WHERE resource_type = 'Patient' AND id = $1`, [id])).rows;

  it('create, update and delete', async () => {
    const created = await g.asPlan({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, name: [{ family: 'Kept' }] } });
    expect(created.statusCode).toBe(201);
    const id = (JSON.parse(created.body) as { id: string }).id;
    const [e] = await eventsFor(g.server, `Patient/${id}`);
    expect([subtypeOf(e!), e!.outcome]).toEqual(['create', '0']);
    expect(entityRefs(e!)).toEqual([`Patient/${id}/_history/1`, `Patient/${id}`]);
    const before = (await g.server.db.query<{ n: string | number }>('SELECT count(*) AS n FROM resource_version')).rows[0]!.n;
    // Every success event of a write is refused from here on (failed events, outcome 8, still stored).
    await g.server.db.exec(`
      CREATE FUNCTION refuse_success_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit insert refused'; END $$;
      CREATE TRIGGER refuse_success_audit BEFORE INSERT ON audit_event FOR EACH ROW WHEN (NEW.outcome = '0' AND NEW.action <> 'R') EXECUTE FUNCTION refuse_success_audit();`);
    try {
      const post = await g.asPlan({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': FHIR_JSON }, payload: { resourceType: 'Patient', managingOrganization: { reference: 'Organization/plan-a' }, name: [{ family: 'Lost' }] } });
      expect(post.statusCode).toBeGreaterThanOrEqual(500);
      const put = await g.asPlan({ method: 'PUT', url: `/fhir/Patient/${id}`, headers: { 'content-type': FHIR_JSON }, payload: patient(id, 'Changed') });
      expect(put.statusCode).toBeGreaterThanOrEqual(500);
      const del = await g.asPlan({ method: 'DELETE', url: `/fhir/Patient/${id}` });
      expect(del.statusCode).toBeGreaterThanOrEqual(500);
    } finally {
      await g.server.db.exec('DROP TRIGGER refuse_success_audit ON audit_event; DROP FUNCTION refuse_success_audit();');
    }
    expect((await g.server.db.query(`SELECT 1 FROM resource WHERE content LIKE '%Lost%'`)).rows).toEqual([]);
    expect(await current(id)).toEqual([{ version_id: 1, deleted: false }]);
    expect((await g.server.db.query<{ n: string | number }>('SELECT count(*) AS n FROM resource_version')).rows[0]!.n).toEqual(before);
    const read = await g.asPlan({ method: 'GET', url: `/fhir/Patient/${id}` });
    expect((JSON.parse(read.body) as { name: { family: string }[] }).name[0]!.family).toBe('Kept');
    // The same update and delete, allowed again, commit with their events.
    expect((await g.asPlan({ method: 'PUT', url: `/fhir/Patient/${id}`, headers: { 'content-type': FHIR_JSON }, payload: patient(id, 'Changed') })).statusCode).toBe(200);
    expect((await g.asPlan({ method: 'DELETE', url: `/fhir/Patient/${id}` })).statusCode).toBe(204);
    expect(await current(id)).toEqual([{ version_id: 3, deleted: true }]);
    const ok = (await eventsFor(g.server, `Patient/${id}`)).filter((x) => x.outcome === '0' && x.action !== 'R');
    expect(ok.map((x) => [subtypeOf(x), entityRefs(x)[0]])).toEqual([
      ['create', `Patient/${id}/_history/1`],
      ['update', `Patient/${id}/_history/2`],
      ['delete', `Patient/${id}/_history/3`],
    ]);
  });
});

describe('coordination-rule refusals', () => {
  beforeAll(async () => {
    await seed(admin);
  });

  const disclosed = (e: AuditEvent) => (e.entity ?? []).filter((x) => x.name === 'disclosed in a coordination-rule refusal');

  it('a refused write names the holder of the scope: the AuditEvent records that disclosure', async () => {
    const m = await member(admin, 'audit-holder');
    expect((await put(admin, careTeam('audit-holder-plan', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, scopes: ['ltc', 'care-transitions'] }], { patient: m }))).statusCode).toBe(201);
    const refused = await put(admin, careTeam('audit-holder-hh', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan', 'care-transitions'], period: { start: '2026-03-01' } }], { patient: m }));
    expect(refused.statusCode).toBe(422);
    expect(refused.body).toContain('Organization/ny-vns-mltc already holds care-transitions');

    const [e, ...more] = await eventsFor(admin, 'CareTeam/audit-holder-hh');
    expect(more).toEqual([]);
    expect(subtypeOf(e!)).toBe('update');
    expect(e!.outcome).toBe('4');
    const d = disclosed(e!);
    expect(d.map((x) => x.what?.reference).sort()).toEqual(['CareTeam/audit-holder-plan', 'Organization/ny-vns-mltc']);
    expect(d.find((x) => x.what?.reference === 'Organization/ny-vns-mltc')).toMatchObject({ type: { code: '3' }, description: expect.stringContaining('single-coordinator-per-scope: Organization/ny-vns-mltc already holds care-transitions') as unknown });
    // The member the refused write concerned.
    expect(entityRefs(e!)).toContain(`Patient/${m}`);
    // Findable from the holder's side: which requests were told about its record.
    expect((await eventsFor(admin, 'Organization/ny-vns-mltc')).map((x) => x.id)).toContain(e!.id);
  });

  it('a transaction refused by a rule records the disclosure as well', async () => {
    const m = await member(admin, 'audit-holder-tx');
    expect((await put(admin, careTeam('audit-tx-plan', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, scopes: ['ltc', 'care-transitions'] }], { patient: m }))).statusCode).toBe(201);
    const res = await transaction(admin, [
      { method: 'PUT', url: 'CareTeam/audit-tx-hh', resource: careTeam('audit-tx-hh', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['care-transitions'], period: { start: '2026-03-01' } }], { patient: m }) },
    ]);
    expect(res.statusCode).toBe(422);
    const [e] = await eventsFor(admin, 'CareTeam/audit-tx-plan').then((all) => all.filter((x) => subtypeOf(x) === 'transaction'));
    expect(e!.outcome).toBe('4');
    // The entry's own CareTeam, named by the Bundle framing of the issue, is not a disclosure.
    expect(disclosed(e!).map((x) => x.what?.reference).sort()).toEqual(['CareTeam/audit-tx-plan', 'Organization/ny-vns-mltc']);
  });

  it('a batch entry refused by a rule: the batch\'s AuditEvent records the disclosure', async () => {
    const m = await member(admin, 'audit-holder-batch');
    expect((await put(admin, careTeam('audit-batch-plan', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, scopes: ['ltc', 'care-transitions'] }], { patient: m }))).statusCode).toBe(201);
    const refused = careTeam('audit-batch-hh', [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['care-transitions'], period: { start: '2026-03-01' } }], { patient: m });
    const res = await admin.request({
      method: 'POST',
      url: '/fhir',
      headers: { 'content-type': FHIR_JSON },
      payload: clean({ resourceType: 'Bundle', type: 'batch', entry: [{ resource: refused, request: { method: 'PUT', url: 'CareTeam/audit-batch-hh' } }] }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('422');
    const [e, ...more] = await eventsFor(admin, 'CareTeam/audit-batch-plan').then((all) => all.filter((x) => subtypeOf(x) === 'batch'));
    expect(more).toEqual([]);
    expect(disclosed(e!).map((x) => x.what?.reference).sort()).toEqual(['CareTeam/audit-batch-plan', 'Organization/ny-vns-mltc']);
  });
});

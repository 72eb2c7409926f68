// A topic event's filter values may need a referenced resource (a lead's PractitionerRole gives the lead's
// organization). The write's final checks have just read those, after the transaction's last write, so the
// recorder takes them from there: a lead change matched by an organization filter costs no read of its
// own, and the event still carries the right organization (before and after the change).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam, ORGS, ROLES, type ParticipantSpec } from '../unit/coordination/builders.js';
import { expectAccepted, member, put, seed } from '../e2e/coordination/support.js';
import { storageBackends } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { putSubscription, stored } from './support.js';

const planLead: ParticipantSpec = { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] };
const role = ROLES.nyRnAtMltcp.id!;

describe.each(storageBackends())('reads of a lead change recorded as an event on %s', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(backend, { SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' });
    await seed(s);
  });
  afterAll(async () => {
    await s.close();
  });

  it('the role the checks read is not read again for the event; the organization filter matches', async () => {
    const m = await member(s, 'reads-lead');
    expectAccepted(await putSubscription(s, { id: 'reads-org', topic: 'lead-care-manager', filters: [`CareTeam?organization=Organization/${ORGS.mltcp.id!}`] }));
    expectAccepted(await putSubscription(s, { id: 'reads-other', topic: 'lead-care-manager', filters: ['CareTeam?organization=Organization/nobody'] }));
    expectAccepted(await put(s, careTeam('reads-team', [{ ...planLead, period: { start: '2026-01-01' } }], { patient: m })));
    const counter = backend === 'postgres' ? countRoleReads(role) : undefined;
    try {
      // A lead change: the lead's period ends (the same role before and after).
      expectAccepted(await put(s, careTeam('reads-team', [{ ...planLead, period: { start: '2026-01-01', end: '2026-06-30' } }], { patient: m })));
      // Once, by the checks' prefetch; before, the recorder read it again for each state.
      if (counter) expect(counter.count()).toBe(1);
    } finally {
      counter?.stop();
    }
    expect((await stored(s, 'reads-org')).map((e) => `${e.eventNumber} ${e.focusId}/${e.focusVersion}`)).toEqual(['1 reads-team/1', '2 reads-team/2']);
    expect(await stored(s, 'reads-other')).toEqual([]);
  });
});

/** Counts reads of one PractitionerRole's current row (not the locking read) sent by node-postgres clients. */
function countRoleReads(id: string): { count(): number; stop(): void } {
  type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const original = proto.query;
  let n = 0;
  proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const config = args[0] as string | { text?: string; values?: unknown[] };
    const text = typeof config === 'string' ? config : (config.text ?? '');
    const values = typeof config === 'string' ? (args[1] as unknown[] | undefined) : config.values;
    if (/^\s*SELECT resource_type, id, version_id/.test(text) && !text.includes('FOR UPDATE') && values?.[0] === 'PractitionerRole' && values[1] === id) n++;
    return original.apply(this, args);
  };
  return {
    count: () => n,
    stop: () => {
      proto.query = original;
    },
  };
}

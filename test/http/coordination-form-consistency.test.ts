// $coordination-form reads every section from one snapshot: a lead handoff committed (in one transaction
// Bundle: the member, the care team's lead and the service request's requester) while a form is being
// read shows in every section of that form or in none, never the new lead in one section and the old in
// another. The write is started between two of the form's reads (after the CareTeam search, before the
// ServiceRequest search). On every backend (on PGlite the write waits for the snapshot to end).
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoordinationForm } from '../../src/coordination/form.js';
import { CoordinationFormService } from '../../src/fhir/coordination-form/service.js';
import type { ReadSnapshot, Repository, SearchPage } from '../../src/fhir/repository.js';
import { ResourceService } from '../../src/fhir/resource-service.js';
import type { SearchRequest } from '../../src/fhir/search/types.js';
import { validateForWrite } from '../../src/fhir/validate-write.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import { clean, forMember } from '../e2e/coordination/support.js';
import { careTeam, ORGS, PEOPLE, ROLES, serviceRequest } from '../unit/coordination/builders.js';
import { storageBackends } from '../support/db.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';

const M = 'snap-1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The member's record with `lead` as lead care manager and requester of the personal care order. */
function record(lead: 'rn' | 'sw', family: string): Resource[] {
  const rnLead = lead === 'rn';
  const team = careTeam(
    `${M}-team`,
    [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: rnLead, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] },
      { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: !rnLead, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['bh-and-out-of-plan'] },
    ],
    { patient: M },
  );
  const order = forMember(
    serviceRequest(`${M}-pcs`, { code: 'T1019', requester: rnLead ? ROLES.nyRnAtMltcp : ROLES.nySwAtHh, category: 'community-ltss', period: { start: '2026-01-01', end: '2030-12-31' } }),
    M,
  );
  const member: Patient = { resourceType: 'Patient', id: M, name: [{ family, given: ['Ada'] }] };
  return [member, team, order].map(clean);
}

function transaction(resources: readonly Resource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id!}` } })),
  };
}

/** The versions of the form's record resources and who it names as lead and as requester. */
function shown(form: CoordinationForm): { versions: Record<string, string | undefined>; name: string; lead?: string; requester?: string } {
  const versions: Record<string, string | undefined> = {};
  for (const r of form.sources) if (['Patient', 'CareTeam', 'ServiceRequest'].includes(r.resourceType)) versions[`${r.resourceType}/${r.id!}`] = r.meta?.versionId;
  return { versions, name: form.member.name, lead: form.leads[0]?.careManager.reference, requester: form.requests[0]?.requester?.reference };
}

/** The repository with `between` run once, after the form's CareTeam search (through a snapshot or not). */
function interleaved(repo: ResourceRepository, between: () => Promise<void>): Repository {
  let done = false;
  const after = async (request: SearchRequest, page: SearchPage): Promise<SearchPage> => {
    if (request.resourceType === 'CareTeam' && !done) {
      done = true;
      await between();
    }
    return page;
  };
  return {
    kind: repo.kind,
    search: async (request, options) => after(request, await repo.search(request, options)),
    read: (type, id) => repo.read(type, id),
    readVersion: (type, id, v) => repo.readVersion(type, id, v),
    history: (query) => repo.history(query),
    canSee: (access, members) => repo.canSee(access, members),
    snapshot: (fn) => repo.snapshot((reader) => fn({ ...reader, search: async (request) => after(request, await reader.search(request)) } satisfies ReadSnapshot)),
    transaction: (fn) => repo.transaction(fn),
    ping: (timeoutMs) => repo.ping(timeoutMs),
    close: () => repo.close(),
  };
}

describe.each(storageBackends())('$coordination-form snapshot on %s', (backend) => {
  let s: TestServer;
  let repo: ResourceRepository;
  beforeAll(async () => {
    s = await startTestServer(backend);
    repo = new ResourceRepository(s.db, { readCacheEntries: 0 });
    for (const r of [...Object.values(ORGS), ...Object.values(PEOPLE), ...Object.values(ROLES), ...record('rn', 'Before')]) {
      const res = await s.request({ method: 'PUT', url: `/fhir/${r.resourceType}/${r.id!}`, payload: clean(r), headers: { 'content-type': FHIR_JSON } });
      if (res.statusCode >= 300) throw new Error(`seeding ${r.resourceType}/${r.id!}: ${res.statusCode} ${res.body}`);
    }
  });
  afterAll(async () => {
    await s.close();
  });

  it('shows a handoff committed between two of its reads in no section, and then in every section', async () => {
    const before = { versions: { [`Patient/${M}`]: '1', [`CareTeam/${M}-team`]: '1', [`ServiceRequest/${M}-pcs`]: '1' }, name: 'Ada Before', lead: `PractitionerRole/${ROLES.nyRnAtMltcp.id!}`, requester: `PractitionerRole/${ROLES.nyRnAtMltcp.id!}` };
    let handoff: Promise<{ statusCode: number; body: string }> | undefined;
    const forms = new CoordinationFormService(
      interleaved(repo, async () => {
        handoff = s.request({ method: 'POST', url: '/fhir', payload: transaction(record('sw', 'After')), headers: { 'content-type': FHIR_JSON } });
        // PostgreSQL commits it now, beside the open snapshot; PGlite's one connection makes it wait for the
        // snapshot, so the form goes on after a while (a form read without a snapshot would let it in).
        await Promise.race([handoff, sleep(backend === 'pglite' ? 1500 : 30_000)]);
      }),
      new ResourceService(repo, { validate: validateForWrite }),
      100,
      100,
    );
    const during = shown(await forms.form(M, {}, { baseUrl: 'http://concord.test/fhir', now: new Date() }));
    const committed = await handoff!;
    expect(committed.statusCode, committed.body).toBe(200);
    expect(during).toEqual(before);

    const after = shown(await forms.form(M, {}, { baseUrl: 'http://concord.test/fhir', now: new Date() }));
    expect(after).toEqual({
      versions: { [`Patient/${M}`]: '2', [`CareTeam/${M}-team`]: '2', [`ServiceRequest/${M}-pcs`]: '2' },
      name: 'Ada After',
      lead: `PractitionerRole/${ROLES.nySwAtHh.id!}`,
      requester: `PractitionerRole/${ROLES.nySwAtHh.id!}`,
    });
  });
});

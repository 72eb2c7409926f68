// Organization-scoped access over HTTP (auth on): every probe of the outsider leaks nothing about the
// other organization's member, answering exactly as if it did not exist (docs/adr/0008).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE, idsOf, ONLY_B, observation, seed, startWorld, totalOf, type World } from './support.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
  await seed(w);
});
afterAll(async () => w.server.close());

const get = (token: string, url: string) => w.as(token, 'GET', url);
const issueCode = (body: string) => (JSON.parse(body) as { issue: { code: string }[] }).issue[0]?.code;

describe('reads', () => {
  it('read and vread of another organization\'s member answer 404 exactly like an unknown id', async () => {
    for (const [url, unknown] of [
      ['/fhir/Patient/pb', '/fhir/Patient/nobody'],
      ['/fhir/Patient/pb/_history/1', '/fhir/Patient/nobody/_history/1'],
      ['/fhir/Observation/obs-b', '/fhir/Observation/nothing'],
      ['/fhir/Observation/obs-b/_history/1', '/fhir/Observation/nothing/_history/1'],
      ['/fhir/Observation/obs-both', '/fhir/Observation/nothing'],
    ]) {
      const [hidden, missing] = [await get(w.a, url!), await get(w.a, unknown!)];
      expect(hidden.statusCode, url).toBe(404);
      expect(issueCode(hidden.body)).toBe(issueCode(missing.body));
      expect(hidden.body).not.toMatch(/Bravo|obs-b"/);
    }
    // Twice: the second read comes from the read cache, and must be filtered the same way.
    expect((await get(w.a, '/fhir/Patient/pb')).statusCode).toBe(404);
    expect((await get(w.b, '/fhir/Patient/pb')).statusCode).toBe(200);
    expect((await get(w.b, '/fhir/Patient/pb')).statusCode).toBe(200);
    expect((await get(w.a, '/fhir/Patient/pa')).statusCode).toBe(200);
    expect((await get(w.admin, '/fhir/Patient/pb')).statusCode).toBe(200);
  });

  it('a resource in two members\' compartments is visible only to who sees both', async () => {
    expect((await get(w.a, '/fhir/Observation/obs-both')).statusCode).toBe(404);
    expect((await get(w.b, '/fhir/Observation/obs-both')).statusCode).toBe(404);
    expect((await get(w.admin, '/fhir/Observation/obs-both')).statusCode).toBe(200);
  });

  it('the directory stays readable by every client', async () => {
    for (const url of ['/fhir/Organization/org-b', '/fhir/Practitioner/pr-b', '/fhir/StructureDefinition/coordination-care-team']) {
      expect((await get(w.a, url)).statusCode, url).toBe(200);
    }
    expect(idsOf(await get(w.a, '/fhir/Organization'))).toEqual(expect.arrayContaining(['Organization/org-a', 'Organization/org-b']));
  });
});

describe('search', () => {
  it('results and totals hold only what the client sees', async () => {
    const res = await get(w.a, `/fhir/Observation?code=${CODE.system}|${CODE.code}&_total=accurate`);
    expect(idsOf(res).sort()).toEqual(['Observation/obs-a', 'Observation/obs-a-focus']);
    expect(totalOf(res)).toBe(2);
    expect(totalOf(await get(w.a, '/fhir/Patient?_summary=count'))).toBe(1);
    expect(totalOf(await get(w.a, `/fhir/Observation?code=${ONLY_B.system}|${ONLY_B.code}&_summary=count`))).toBe(0);
    expect(idsOf(await get(w.a, '/fhir?_type=Patient,Observation&_count=100'))).not.toEqual(expect.arrayContaining(['Patient/pb']));
    expect(idsOf(await get(w.a, '/fhir/Patient?_id=pb'))).toEqual([]);
    expect(idsOf(await get(w.a, '/fhir/Observation?subject=Patient/pb'))).toEqual([]);
    // Paging: one per page, and the pages hold exactly the visible ones.
    const first = await get(w.a, `/fhir/Observation?code=${CODE.system}|${CODE.code}&_count=1`);
    const next = (JSON.parse(first.body) as { link: { relation: string; url: string }[] }).link.find((l) => l.relation === 'next')!.url;
    const second = await get(w.a, next.replace('http://concord.test', ''));
    expect([...idsOf(first), ...idsOf(second)].sort()).toEqual(['Observation/obs-a', 'Observation/obs-a-focus']);
    expect((JSON.parse(second.body) as { link: { relation: string }[] }).link.some((l) => l.relation === 'next')).toBe(false);
    // The administrative client sees everything.
    expect(totalOf(await get(w.admin, `/fhir/Observation?code=${CODE.system}|${CODE.code}&_total=accurate`))).toBe(4);
  });

  it('_include, _revinclude, _has, chains and _list do not reach the invisible member', async () => {
    expect(idsOf(await get(w.a, '/fhir/Observation?_id=obs-a-focus&_include=Observation:focus'))).toEqual(['Observation/obs-a-focus']);
    expect(idsOf(await get(w.admin, '/fhir/Observation?_id=obs-a-focus&_include=Observation:focus'))).toContain('Patient/pb');
    expect(idsOf(await get(w.a, '/fhir/Patient?_revinclude=Observation:subject')).sort()).toEqual(['Observation/obs-a', 'Observation/obs-a-focus', 'Patient/pa']);
    expect(idsOf(await get(w.a, `/fhir/Patient?_has:Observation:subject:code=${ONLY_B.code}`))).toEqual([]);
    // A visible Patient must not match through an invisible resource either.
    expect(idsOf(await get(w.admin, '/fhir/Patient?_has:Observation:performer:_id=obs-both'))).toEqual(['Patient/pb']);
    expect(idsOf(await get(w.a, '/fhir/Patient?_has:Observation:subject:_id=obs-both'))).toEqual([]);
    // An invisible Patient makes no visible resource match a chain.
    expect(idsOf(await get(w.admin, '/fhir/Observation?focus:Patient.name=Bravo'))).toEqual(['Observation/obs-a-focus']);
    expect(idsOf(await get(w.a, '/fhir/Observation?focus:Patient.name=Bravo'))).toEqual([]);
    expect(idsOf(await get(w.a, '/fhir/Observation?focus:Patient.name=Alpha'))).toEqual([]);
    // _list: a List in the invisible member's record selects nothing.
    const list = { resourceType: 'List', id: 'list-b', status: 'current', mode: 'working', subject: { reference: 'Patient/pb' }, entry: [{ item: { reference: 'Observation/obs-a' } }] };
    expect((await w.as(w.admin, 'PUT', '/fhir/List/list-b', list)).statusCode).toBe(201);
    expect(idsOf(await get(w.admin, '/fhir/Observation?_list=list-b'))).toEqual(['Observation/obs-a']);
    expect(idsOf(await get(w.a, '/fhir/Observation?_list=list-b'))).toEqual([]);
  });
});

describe('history', () => {
  it('instance, type and system history leave the invisible member out', async () => {
    expect((await get(w.a, '/fhir/Patient/pb/_history')).statusCode).toBe(404);
    expect((await get(w.a, '/fhir/Observation/obs-both/_history')).statusCode).toBe(404);
    expect((await get(w.a, '/fhir/Patient/pa/_history')).statusCode).toBe(200);
    const type = await get(w.a, '/fhir/Patient/_history');
    expect(idsOf(type)).toEqual(['Patient/pa']);
    expect(totalOf(type)).toBe(1);
    const system = idsOf(await get(w.a, '/fhir/_history?_count=1000'));
    expect(system).toContain('Patient/pa');
    expect(system).toContain('Organization/org-b');
    for (const hidden of ['Patient/pb', 'Observation/obs-b', 'Observation/obs-b-only', 'Observation/obs-both']) expect(system).not.toContain(hidden);
  });

  it('a deletion of an invisible resource stays invisible', async () => {
    await w.as(w.admin, 'PUT', '/fhir/Observation/obs-b-gone', observation('obs-b-gone', 'pb', ONLY_B));
    expect((await w.as(w.admin, 'DELETE', '/fhir/Observation/obs-b-gone')).statusCode).toBe(204);
    expect((await get(w.a, '/fhir/Observation/obs-b-gone')).statusCode).toBe(404);
    expect((await get(w.b, '/fhir/Observation/obs-b-gone')).statusCode).toBe(410);
    expect(idsOf(await get(w.a, '/fhir/Observation/_history?_count=1000'))).not.toContain('Observation/obs-b-gone');
  });
});

describe('Bundles', () => {
  const bundleOf = (type: 'batch' | 'transaction', urls: string[]) => ({ resourceType: 'Bundle', type, entry: urls.map((url) => ({ request: { method: 'GET', url } })) });
  it('GET entries of batches and transactions answer as if the member did not exist', async () => {
    for (const type of ['batch', 'transaction'] as const) {
      const res = await w.as(w.a, 'POST', '/fhir', bundleOf(type, ['Patient/pb', 'Observation?subject=Patient/pb', 'Patient/pa', 'Observation/obs-b/_history/1']));
      if (type === 'transaction') {
        // One failing GET fails the transaction, with the 404 of that entry.
        expect(res.statusCode).toBe(404);
        continue;
      }
      const entries = (JSON.parse(res.body) as { entry: { response: { status: string }; resource?: { total?: number; entry?: unknown[] } }[] }).entry;
      expect(entries.map((e) => e.response.status.slice(0, 3))).toEqual(['404', '200', '200', '404']);
      expect(entries[1]!.resource!.entry ?? []).toHaveLength(0);
    }
    const ok = await w.as(w.a, 'POST', '/fhir', bundleOf('transaction', ['Observation?subject=Patient/pb', 'Patient/pa']));
    expect(ok.statusCode).toBe(200);
    const entries = (JSON.parse(ok.body) as { entry: { resource?: { entry?: unknown[] } }[] }).entry;
    expect(entries[0]!.resource!.entry ?? []).toHaveLength(0);
  });
});

describe('conditional interactions and $validate', () => {
  it('conditional create, update and delete do not match what the client cannot see', async () => {
    const criteria = 'identifier=urn:test:obs|obs-b';
    const created = await w.as(w.a, 'POST', '/fhir/Observation', { ...observation('x', 'pa', CODE), id: undefined }, { 'if-none-exist': criteria });
    expect(created.statusCode).toBe(201);
    expect((JSON.parse(created.body) as { id: string }).id).not.toBe('obs-b');
    const updated = await w.as(w.a, 'PUT', `/fhir/Observation?${criteria}`, { ...observation('obs-a-cond', 'pa', CODE) });
    expect(updated.statusCode).toBe(201);
    const deleted = await w.as(w.a, 'DELETE', `/fhir/Observation?identifier=urn:test:obs|obs-b-only`);
    expect(deleted.statusCode).toBe(200);
    const b = await get(w.b, '/fhir/Observation/obs-b');
    expect(JSON.parse(b.body)).toMatchObject({ meta: { versionId: '1' }, subject: { reference: 'Patient/pb' } });
    expect((await get(w.b, '/fhir/Observation/obs-b-only')).statusCode).toBe(200);
    // In a transaction too: the conditional reference finds nothing the client cannot see.
    const txn = await w.as(w.a, 'POST', '/fhir', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ request: { method: 'POST', url: 'Observation' }, resource: { ...observation('y', 'pa', CODE), id: undefined, focus: [{ reference: `Observation?${criteria}` }] } }],
    });
    expect(txn.statusCode).toBe(412);
  });

  it('$validate judges an invisible resource as a missing one', async () => {
    const body = (id: string) => ({ ...observation(id, 'pb', ONLY_B) });
    const hidden = await w.as(w.a, 'POST', '/fhir/Observation/obs-b/$validate', body('obs-b'));
    const missing = await w.as(w.a, 'POST', '/fhir/Observation/nothing/$validate', body('nothing'));
    expect(hidden.statusCode).toBe(missing.statusCode);
    expect(JSON.parse(hidden.body)).toEqual(JSON.parse(missing.body));
    const del = await w.as(w.a, 'POST', '/fhir/Observation/obs-b/$validate?mode=delete', {});
    const delMissing = await w.as(w.a, 'POST', '/fhir/Observation/nothing/$validate?mode=delete', {});
    expect(JSON.parse(del.body)).toEqual(JSON.parse(delMissing.body));
  });
});

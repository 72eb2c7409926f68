import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';

const patient = { resourceType: 'Patient', name: [{ family: 'Rivera', given: ['Ana'] }], birthDate: '1948-03-02' };

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

async function create(body: object = patient) {
  const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: body, headers: { 'content-type': FHIR_JSON } });
  expect(res.statusCode).toBe(201);
  return s.json<{ id: string; meta: { versionId: string; lastUpdated: string } }>(res);
}

describe('create and read', () => {
  it('assigns an id, version 1 and lastUpdated, with Location, ETag and Last-Modified', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: { ...patient, id: 'client-id', meta: { versionId: '9' } } });
    expect(res.statusCode).toBe(201);
    const body = s.json<{ id: string; meta: { versionId: string; lastUpdated: string } }>(res);
    expect(body.id).not.toBe('client-id');
    expect(body.meta.versionId).toBe('1');
    expect(res.headers.location).toBe(`http://concord.test/fhir/Patient/${body.id}/_history/1`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers['last-modified']).toBe(new Date(body.meta.lastUpdated).toUTCString());
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');

    const read = await s.request({ method: 'GET', url: `/fhir/Patient/${body.id}` });
    expect(read.statusCode).toBe(200);
    expect(s.json(read)).toEqual(body);
    expect(read.headers.etag).toBe('W/"1"');
  });

  it('creates a resource that has no searchable values at all', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Basic', payload: { resourceType: 'Basic', code: { text: 'free text only' } } });
    expect(res.statusCode, res.body).toBe(201);
    const bare = await s.request({ method: 'POST', url: '/fhir/Medication', payload: { resourceType: 'Medication' } });
    expect(bare.statusCode, bare.body).toBe(201);
  });

  it('answers 404 for an unknown id and an unknown type', async () => {
    const a = await s.request({ method: 'GET', url: '/fhir/Patient/nope' });
    expect(a.statusCode).toBe(404);
    expect(s.json(a)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
    const b = await s.request({ method: 'GET', url: '/fhir/Spaceship/1' });
    expect(b.statusCode).toBe(404);
    expect(s.json<{ issue: { diagnostics: string }[] }>(b).issue[0]!.diagnostics).toContain('Spaceship');
  });

  it('supports conditional read with If-None-Match', async () => {
    const p = await create();
    const res = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}`, headers: { 'if-none-match': 'W/"1"' } });
    expect(res.statusCode).toBe(304);
    const changed = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}`, headers: { 'if-none-match': 'W/"0"' } });
    expect(changed.statusCode).toBe(200);
  });

  it('honours Prefer: return=minimal and return=OperationOutcome', async () => {
    const min = await s.request({ method: 'POST', url: '/fhir/Patient', payload: patient, headers: { prefer: 'return=minimal' } });
    expect(min.statusCode).toBe(201);
    expect(min.body).toBe('');
    expect(min.headers.location).toMatch(/\/Patient\/[^/]+\/_history\/1$/);
    const oo = await s.request({ method: 'POST', url: '/fhir/Patient', payload: patient, headers: { prefer: 'return=OperationOutcome' } });
    expect(oo.statusCode).toBe(201);
    expect(s.json(oo)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information' }] });
  });
});

describe('update, vread and patch', () => {
  it('creates a new version on update and keeps the old one readable', async () => {
    const p = await create();
    const upd = await s.request({ method: 'PUT', url: `/fhir/Patient/${p.id}`, payload: { ...patient, id: p.id, gender: 'female' } });
    expect(upd.statusCode).toBe(200);
    expect(upd.headers.etag).toBe('W/"2"');
    const v1 = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}/_history/1` });
    expect(v1.statusCode).toBe(200);
    expect(s.json(v1)).not.toHaveProperty('gender');
    const v2 = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}/_history/2` });
    expect(s.json(v2)).toMatchObject({ gender: 'female', meta: { versionId: '2' } });
    const v3 = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}/_history/3` });
    expect(v3.statusCode).toBe(404);
  });

  it('creates with the client id on update-as-create (201)', async () => {
    const res = await s.request({ method: 'PUT', url: '/fhir/Patient/member-0001', payload: { ...patient, id: 'member-0001' } });
    expect(res.statusCode).toBe(201);
    expect(s.json(res)).toMatchObject({ id: 'member-0001', meta: { versionId: '1' } });
  });

  it('rejects an update whose body id differs from the URL (400) or is missing', async () => {
    const p = await create();
    const res = await s.request({ method: 'PUT', url: `/fhir/Patient/${p.id}`, payload: { ...patient, id: 'other' } });
    expect(res.statusCode).toBe(400);
    expect(s.json(res)).toMatchObject({ issue: [{ expression: ['Patient.id'] }] });
    const missing = await s.request({ method: 'PUT', url: `/fhir/Patient/${p.id}`, payload: patient });
    expect(missing.statusCode).toBe(400);
  });

  it('answers 412 when If-Match names another version, and 400 for a malformed If-Match', async () => {
    const p = await create();
    const stale = await s.request({ method: 'PUT', url: `/fhir/Patient/${p.id}`, payload: { ...patient, id: p.id }, headers: { 'if-match': 'W/"2"' } });
    expect(stale.statusCode).toBe(412);
    const ok = await s.request({ method: 'PUT', url: `/fhir/Patient/${p.id}`, payload: { ...patient, id: p.id }, headers: { 'if-match': 'W/"1"' } });
    expect(ok.statusCode).toBe(200);
    const bad = await s.request({ method: 'PUT', url: `/fhir/Patient/${p.id}`, payload: { ...patient, id: p.id }, headers: { 'if-match': 'yesterday' } });
    expect(bad.statusCode).toBe(400);
  });

  it('applies a JSON Patch and validates the result', async () => {
    const p = await create();
    const ops = [{ op: 'replace', path: '/birthDate', value: '1950-01-01' }];
    const res = await s.request({ method: 'PATCH', url: `/fhir/Patient/${p.id}`, payload: JSON.stringify(ops), headers: { 'content-type': 'application/json-patch+json' } });
    expect(res.statusCode).toBe(200);
    expect(s.json(res)).toMatchObject({ birthDate: '1950-01-01', meta: { versionId: '2' } });

    const invalid = [{ op: 'replace', path: '/birthDate', value: 'last tuesday' }];
    const bad = await s.request({ method: 'PATCH', url: `/fhir/Patient/${p.id}`, payload: JSON.stringify(invalid), headers: { 'content-type': 'application/json-patch+json' } });
    expect(bad.statusCode).toBe(422);
    const failing = [{ op: 'test', path: '/birthDate', value: '1900-01-01' }];
    const failed = await s.request({ method: 'PATCH', url: `/fhir/Patient/${p.id}`, payload: JSON.stringify(failing), headers: { 'content-type': 'application/json-patch+json' } });
    expect(failed.statusCode).toBe(422);
    const idChange = [{ op: 'replace', path: '/id', value: 'x' }];
    const changed = await s.request({ method: 'PATCH', url: `/fhir/Patient/${p.id}`, payload: JSON.stringify(idChange), headers: { 'content-type': 'application/json-patch+json' } });
    expect(changed.statusCode).toBe(422);
    const after = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}` });
    expect(s.json(after)).toMatchObject({ birthDate: '1950-01-01', meta: { versionId: '2' } });
  });
});

describe('delete', () => {
  it('tombstones: read is 410, history keeps the versions, deleting again is harmless', async () => {
    const p = await create();
    const del = await s.request({ method: 'DELETE', url: `/fhir/Patient/${p.id}` });
    expect(del.statusCode).toBe(204);
    expect(del.headers.etag).toBe('W/"2"');
    const read = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}` });
    expect(read.statusCode).toBe(410);
    expect(s.json(read)).toMatchObject({ issue: [{ code: 'deleted' }] });
    const again = await s.request({ method: 'DELETE', url: `/fhir/Patient/${p.id}` });
    expect(again.statusCode).toBe(204);
    const hist = s.json<{ total: number; entry: { request: { method: string }; resource?: unknown }[] }>(
      await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}/_history` }),
    );
    expect(hist.total).toBe(2);
    expect(hist.entry.map((e) => e.request.method)).toEqual(['DELETE', 'POST']);
    expect(hist.entry[0]!.resource).toBeUndefined();
    const v1 = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}/_history/1` });
    expect(v1.statusCode).toBe(200);
    const v2 = await s.request({ method: 'GET', url: `/fhir/Patient/${p.id}/_history/2` });
    expect(v2.statusCode).toBe(410);
    // An update after a delete brings the resource back as a new version.
    const revive = await s.request({ method: 'PUT', url: `/fhir/Patient/${p.id}`, payload: { ...patient, id: p.id } });
    expect(revive.statusCode).toBe(201);
    expect(s.json(revive)).toMatchObject({ meta: { versionId: '3' } });
  });

  it('answers 404 for deleting an id that never existed', async () => {
    const res = await s.request({ method: 'DELETE', url: '/fhir/Patient/never-was' });
    expect(res.statusCode).toBe(404);
  });
});

describe('history', () => {
  it('pages type history newest first with next links and _since', async () => {
    const type = 'Practitioner';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await s.request({ method: 'POST', url: `/fhir/${type}`, payload: { resourceType: type, name: [{ family: `P${i}` }] } });
      ids.push(s.json<{ id: string }>(res).id);
    }
    const page1 = s.json<{ type: string; total: number; link: { relation: string; url: string }[]; entry: { fullUrl: string }[] }>(
      await s.request({ method: 'GET', url: `/fhir/${type}/_history?_count=2` }),
    );
    expect(page1.type).toBe('history');
    expect(page1.total).toBe(5);
    expect(page1.entry.map((e) => e.fullUrl)).toEqual([4, 3].map((i) => `http://concord.test/fhir/${type}/${ids[i]}`));
    const next = page1.link.find((l) => l.relation === 'next')!.url;
    // A write between pages must not shift the next page.
    const extra = await s.request({ method: 'POST', url: `/fhir/${type}`, payload: { resourceType: type } });
    expect(extra.statusCode, extra.body).toBe(201);
    const page2 = s.json<{ entry: { fullUrl: string }[] }>(await s.request({ method: 'GET', url: next.replace('http://concord.test', '') }));
    expect(page2.entry.map((e) => e.fullUrl)).toEqual([2, 1].map((i) => `http://concord.test/fhir/${type}/${ids[i]}`));

    const future = s.json<{ total: number }>(await s.request({ method: 'GET', url: `/fhir/${type}/_history?_since=2999-01-01T00:00:00Z` }));
    expect(future.total).toBe(0);
    const bad = await s.request({ method: 'GET', url: `/fhir/${type}/_history?_since=yesterday` });
    expect(bad.statusCode).toBe(400);
    const countOnly = await s.request({ method: 'GET', url: `/fhir/${type}/_history?_count=0` });
    expect(countOnly.statusCode).toBe(200);
    expect(JSON.parse(countOnly.body)).toMatchObject({ total: 6, entry: [] });
  });

  it('serves system history across types', async () => {
    await create();
    const res = await s.request({ method: 'GET', url: '/fhir/_history?_count=1' });
    expect(res.statusCode).toBe(200);
    const b = s.json<{ entry: unknown[]; link: { relation: string }[] }>(res);
    expect(b.entry).toHaveLength(1);
    expect(b.link.map((l) => l.relation)).toContain('next');
  });
});

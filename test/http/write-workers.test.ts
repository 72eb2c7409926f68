// Large writes are validated and indexed on a worker thread (ADR 0015): the event loop keeps answering
// while one is checked, the answers and the stored state are those of the inline path, and closing the
// server stops the worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';

const names = (n: number, given: number) => Array.from({ length: n }, (_, i) => ({ family: `F${i}`, given: Array.from({ length: given }, (_, g) => `G${i}x${g}`) }));
const post = (s: TestServer, url: string, body: unknown, headers: Record<string, string> = {}) =>
  s.request({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': FHIR_JSON, ...headers } });

describe('a large accepted write', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(undefined, { WRITE_WORKERS: '1' });
  });
  afterAll(() => s?.close());

  it('is checked on a worker while /healthz answers, and is stored and searchable as usual', async () => {
    let settled = false;
    const write = post(s, '/fhir/Patient', { resourceType: 'Patient', name: names(5_000, 1) }).finally(() => (settled = true));
    // The write is on the worker now: inline, nothing would ever be running there.
    await expect.poll(() => s.writeChecks.running, { timeout: 30_000, interval: 5 }).toBe(1);
    const health = await s.request({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(settled).toBe(false);

    const created = await write;
    expect(created.statusCode).toBe(201);
    const id = s.json<{ id: string }>(created).id;
    // The index rows prepared on the worker were written.
    const found = s.json<{ total: number; entry: { resource: { id: string } }[] }>(await s.request({ method: 'GET', url: '/fhir/Patient?family=F4321&given=G4321x0' }));
    expect(found.entry.map((e) => e.resource.id)).toEqual([id]);
    const read = s.json<{ name: unknown[] }>(await s.request({ method: 'GET', url: `/fhir/Patient/${id}` }));
    expect(read.name).toHaveLength(5_000);
  });

  it('a small write never reaches the worker', async () => {
    const before = s.writeChecks.running;
    const res = await post(s, '/fhir/Patient', { resourceType: 'Patient', name: names(3, 1) });
    expect(res.statusCode).toBe(201);
    expect(before).toBe(0);
    expect(s.writeChecks.running).toBe(0);
  });
});

describe('worker and inline paths answer the same', () => {
  let onWorker: TestServer;
  let inline: TestServer;
  beforeAll(async () => {
    [onWorker, inline] = await Promise.all([startTestServer(undefined, { WRITE_WORKERS: '1' }), startTestServer(undefined, { WRITE_WORKERS: '0' })]);
  });
  afterAll(async () => {
    await onWorker?.close();
    await inline?.close();
  });

  const both = async (fn: (s: TestServer) => Promise<{ statusCode: number; body: string }>) => {
    const [a, b] = [await fn(onWorker), await fn(inline)];
    return { worker: { status: a.statusCode, body: JSON.parse(a.body) as unknown }, inline: { status: b.statusCode, body: JSON.parse(b.body) as unknown } };
  };

  it('an invalid large resource: the same 422 OperationOutcome, on create and on $validate', async () => {
    const bad = { resourceType: 'Patient', name: names(3_000, 1), birthDate: '1990-13-01', foo: 1 };
    const created = await both((s) => post(s, '/fhir/Patient', bad));
    expect(created.worker.status).toBe(422);
    expect(created.worker).toEqual(created.inline);
    const validated = await both((s) => post(s, '/fhir/Patient/$validate', bad));
    expect(validated.worker).toEqual(validated.inline);
    expect(onWorker.writeChecks.threadCount).toBe(1);
    expect(inline.writeChecks.threadCount).toBe(0);
  });

  it('too many index rows: the same 422 at the write, yet a conditional create that matches answers 200 as before', async () => {
    const tooMany = { resourceType: 'Patient', identifier: [{ system: 'urn:t', value: 'big' }], name: names(5_001, 2) };
    const refused = await both((s) => post(s, '/fhir/Patient', tooMany));
    expect(refused.worker.status).toBe(422);
    expect(refused.worker).toEqual(refused.inline);
    for (const s of [onWorker, inline]) expect((await post(s, '/fhir/Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:t', value: 'big' }] })).statusCode).toBe(201);
    const matched = await both((s) => post(s, '/fhir/Patient', tooMany, { 'if-none-exist': 'identifier=urn:t|big' }));
    expect(matched.worker.status).toBe(200);
    expect(matched.inline.status).toBe(200);
  });
});

it('closing the server stops its worker thread', async () => {
  const s = await startTestServer(undefined, { WRITE_WORKERS: '1' });
  try {
    expect(s.writeChecks.threadCount).toBe(0); // started on first need only
    expect((await post(s, '/fhir/Patient', { resourceType: 'Patient', name: names(3_000, 1) })).statusCode).toBe(201);
    expect(s.writeChecks.threadCount).toBe(1);
  } finally {
    await s.close();
  }
  expect(s.writeChecks.threadCount).toBe(0);
});

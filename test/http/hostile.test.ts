// Hostile requests (the Robustness issue): every one answers 4xx with an OperationOutcome, never a
// 5xx, and stores nothing. Over HTTP against the real database; the transport-level refusals (431,
// 414, 413 to a Node fetch client) over a real listening port on 127.0.0.1.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let base: string;
beforeAll(async () => {
  s = await startTestServer();
  base = `${await s.app.listen({ port: 0, host: '127.0.0.1' })}/fhir`;
});
afterAll(async () => {
  await s.close();
});

type Outcome = { resourceType: string; issue: { severity: string; code: string; diagnostics?: string; expression?: string[] }[] };
type Res = { statusCode: number; headers: Record<string, unknown>; body: string };

/** 4xx, FHIR content type, an OperationOutcome with an error issue; returns the first issue. */
function expectOutcome(res: Res, status: number, code?: string): Outcome['issue'][number] {
  expect(res.statusCode, res.body).toBe(status);
  expect(String(res.headers['content-type'])).toContain('application/fhir+json');
  const body = JSON.parse(res.body) as Outcome;
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue[0]!.severity).toBe('error');
  if (code) expect(body.issue[0]!.code).toBe(code);
  return body.issue[0]!;
}

/** Versions written so far, every type (the history total): unchanged means nothing was stored. */
async function versionCount(): Promise<number> {
  const res = await s.request({ method: 'GET', url: '/fhir/_history?_count=1' });
  return (JSON.parse(res.body) as { total: number }).total;
}

async function createPatient(family: string): Promise<string> {
  const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', name: [{ family }], identifier: [{ system: 'urn:mrn', value: family }] } });
  expect(res.statusCode).toBe(201);
  return (JSON.parse(res.body) as { id: string }).id;
}

describe('NUL characters', () => {
  it('in a search value, a parameter name or a form-encoded search: 400', async () => {
    expectOutcome(await s.request({ method: 'GET', url: '/fhir/Patient?name=a%00b' }), 400, 'invalid');
    expectOutcome(await s.request({ method: 'GET', url: '/fhir/Patient?identifier=urn:mrn%7C%00' }), 400, 'invalid');
    expectOutcome(await s.request({ method: 'GET', url: '/fhir/Patient?na%00me=x' }), 400, 'invalid');
    expectOutcome(await s.request({ method: 'GET', url: '/fhir?_type=Patient&_id=a%00' }), 400, 'invalid');
    const form = await s.request({ method: 'POST', url: '/fhir/Patient/_search', payload: 'family=%00', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectOutcome(form, 400, 'invalid');
  });

  it('in conditional update / delete criteria and If-None-Exist: 400, nothing stored or deleted', async () => {
    await createPatient('Nulcheck');
    const before = await versionCount();
    const body = { resourceType: 'Patient', name: [{ family: 'Other' }] };
    expectOutcome(await s.request({ method: 'PUT', url: '/fhir/Patient?identifier=urn:mrn%7CNul%00check', payload: body }), 400, 'invalid');
    expectOutcome(await s.request({ method: 'DELETE', url: '/fhir/Patient?family=Nul%00check' }), 400, 'invalid');
    const create = await s.request({ method: 'POST', url: '/fhir/Patient', payload: body, headers: { 'if-none-exist': 'identifier=urn:mrn%7Cx%00' } });
    expectOutcome(create, 400, 'invalid');
    expect(await versionCount()).toBe(before);
  });

  it('in a string of a resource body (create, update, $validate) or in an id: 400, nothing stored', async () => {
    const id = await createPatient('Body');
    const before = await versionCount();
    const withNul = { resourceType: 'Patient', name: [{ family: 'a\u0000b' }] };
    const created = expectOutcome(await s.request({ method: 'POST', url: '/fhir/Patient', payload: withNul }), 400, 'invalid');
    expect(created.expression).toEqual(['name[0].family']);
    expectOutcome(await s.request({ method: 'PUT', url: `/fhir/Patient/${id}`, payload: { ...withNul, id } }), 400, 'invalid');
    expectOutcome(await s.request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', extension: [{ url: 'http://x.org/a\u0000', valueString: 'x' }] } }), 400, 'invalid');
    expectOutcome(await s.request({ method: 'POST', url: '/fhir/Patient/$validate', payload: withNul }), 400, 'invalid');
    const badId = await s.request({ method: 'PUT', url: '/fhir/Patient/a%00b', payload: { resourceType: 'Patient', id: 'a\u0000b' } });
    expect(badId.statusCode).toBe(400);
    expect((JSON.parse(badId.body) as Outcome).resourceType).toBe('OperationOutcome');
    const read = await s.request({ method: 'GET', url: '/fhir/Patient/a%00b' });
    expect(read.statusCode).toBe(404);
    expect(await versionCount()).toBe(before);
  });

  it('in a JSON Patch value: 400, the resource keeps its version', async () => {
    const id = await createPatient('Patchnul');
    const before = await versionCount();
    const res = await s.request({
      method: 'PATCH',
      url: `/fhir/Patient/${id}`,
      payload: [{ op: 'replace', path: '/name/0/family', value: 'x\u0000' }],
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expectOutcome(res, 400, 'invalid');
    expect(await versionCount()).toBe(before);
  });
});

describe('JSON Patch through __proto__, constructor or prototype', () => {
  it.each([
    ['/__proto__/polluted'],
    ['/constructor/prototype/polluted'],
    ['/constructor/polluted'],
    ['/name/0/__proto__/polluted'],
    ['/meta/prototype'],
  ])('%s: 400, no prototype pollution, nothing stored', async (path) => {
    const id = await createPatient('Proto');
    const before = await versionCount();
    for (const op of [
      { op: 'add', path, value: 'yes' },
      { op: 'replace', path, value: 'yes' },
      { op: 'copy', from: path, path: '/gender' },
      { op: 'move', from: '/name/0', path },
    ]) {
      const res = await s.request({ method: 'PATCH', url: `/fhir/Patient/${id}`, payload: [op], headers: { 'content-type': 'application/json-patch+json' } });
      const i = expectOutcome(res, 400, 'invalid');
      expect(i.diagnostics).toMatch(/__proto__, constructor or prototype/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(await versionCount()).toBe(before);
  });
});

type ResponseBundle = { resourceType: string; type: string; entry: { response: { status: string; outcome?: Outcome } }[] };

describe('Bundles with hostile entries', () => {
  const binaryPatch = (ops: unknown) => ({ resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(ops)).toString('base64') });

  it('batch: good entries are committed and reported 201, each bad entry gets its own 4xx outcome, the batch answers 200', async () => {
    const target = await createPatient('Batchtarget');
    const before = await versionCount();
    const res = await s.request({
      method: 'POST',
      url: '/fhir',
      payload: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { resource: { resourceType: 'Patient', name: [{ family: 'Good1' }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Patient', name: [{ family: 'Bad\u0000' }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: binaryPatch([{ op: 'add', path: '/__proto__/polluted', value: 1 }]), request: { method: 'PATCH', url: `Patient/${target}` } },
          { resource: { resourceType: 'Patient' }, request: { method: 'PUT', url: 'Patient?identifier=x%00' } },
          { request: { method: 'DELETE', url: 'Patient?family=%00' } },
          { request: { method: 'GET', url: 'Patient?name=%00' } },
          { resource: { resourceType: 'Patient', name: [{ family: 'Good2' }] }, request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=a%00' } },
          { resource: { resourceType: 'Patient', name: [{ family: 'Good3' }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 7 } },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = JSON.parse(res.body) as ResponseBundle;
    expect(body.type).toBe('batch-response');
    expect(body.entry.map((e) => e.response.status)).toEqual(['201 Created', '400 Bad Request', '400 Bad Request', '400 Bad Request', '400 Bad Request', '400 Bad Request', '400 Bad Request', '201 Created', '400 Bad Request']);
    for (const e of body.entry.filter((x) => x.response.status.startsWith('400'))) {
      expect(e.response.outcome?.resourceType).toBe('OperationOutcome');
      expect(e.response.outcome?.issue[0]?.severity).toBe('error');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await versionCount()).toBe(before + 2);
  });

  it('transaction: one hostile entry refuses the whole Bundle with 400 and stores nothing', async () => {
    const before = await versionCount();
    for (const bad of [
      { resource: { resourceType: 'Patient', name: [{ family: 'Bad\u0000' }] }, request: { method: 'POST', url: 'Patient' } },
      { resource: { resourceType: 'Patient' }, request: { method: 'PUT', url: 'Patient?identifier=x%00' } },
      { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=%00' } },
      { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient?identifier=%00' } }, request: { method: 'POST', url: 'Observation' } },
      { request: { method: 'GET', url: 'Patient?name=%00' } },
      { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient', ifNoneExist: 'name:contains=a,b,c,d,e,f,g,h,i,j,k' } },
      { resource: { resourceType: 'Patient' }, request: { method: 'PUT', url: 'Patient?name:contains=a,b,c,d,e,f,g,h,i,j,k' } },
    ]) {
      const res = await s.request({
        method: 'POST',
        url: '/fhir',
        payload: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', name: [{ family: 'Txgood' }] }, request: { method: 'POST', url: 'Patient' } }, bad] },
      });
      expect(res.statusCode, JSON.stringify(bad)).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, JSON.stringify(bad)).toBeLessThan(500);
      expect((JSON.parse(res.body) as Outcome).resourceType).toBe('OperationOutcome');
    }
    expect(await versionCount()).toBe(before);
  });
});

describe('search complexity limits (defaults), refused before any SQL', () => {
  const get = (query: string) => s.request({ method: 'GET', url: `/fhir/Patient?${query}` });
  const list = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));

  it.each([
    ['search parameters', 50, (n: number) => list(n, (i) => `family=f${i}`).join('&'), 'maxParams'],
    ['OR values', 100, (n: number) => `family=${list(n, (i) => `f${i}`).join(',')}`, 'maxOrValues'],
    [':contains terms', 10, (n: number) => list(n, (i) => `name:contains=n${i}`).join('&'), 'maxContainsTerms'],
    [':contains OR terms', 10, (n: number) => `name:contains=${list(n, (i) => `n${i}`).join(',')}`, 'maxContainsTerms'],
    ['_sort keys', 10, (n: number) => `_sort=${list(n, (i) => (i % 2 ? '-' : '') + ['family', 'given', 'birthdate', '_id', '_lastUpdated'][i % 5]).join(',')}`, 'maxSortKeys'],
    ['_include values', 20, (n: number) => list(n, () => '_include=Patient:organization').join('&'), 'maxIncludes'],
    [':iterate includes', 5, (n: number) => list(n, () => '_include:iterate=Patient:link').join('&'), 'maxIterateIncludes'],
    ['chain depth', 4, (n: number) => `${['organization', ...list(n - 1, () => 'partof')].join('.')}.name=x`, 'maxChainDepth'],
  ])('%s: %i pass, one more is refused with 400 too-costly naming the limit', async (_what, limit, query, name) => {
    const ok = await get(query(limit));
    expect(ok.statusCode, ok.body).toBe(200);
    const refused = expectOutcome(await get(query(limit + 1)), 400, 'too-costly');
    expect(refused.diagnostics).toContain(name);
    expect(refused.diagnostics).toContain(`limit of ${limit}`);
  });

  it('the observed pathological queries are refused in milliseconds', async () => {
    const contains = list(600, (i) => `name:contains=${'ab'.repeat(3)}${i}`).join('&');
    const sort = `_sort=${list(1600, (i) => (i % 2 ? 'family' : '-given')).join(',')}`;
    for (const q of [contains, sort]) {
      const started = performance.now();
      const res = await s.request({ method: 'POST', url: '/fhir/Patient/_search', payload: q, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expectOutcome(res, 400, 'too-costly');
      expect(performance.now() - started).toBeLessThan(500);
    }
  });

  it('also bounds conditional criteria and search entries in a batch', async () => {
    const before = await versionCount();
    const criteria = list(11, (i) => `name:contains=n${i}`).join('&');
    expectOutcome(await s.request({ method: 'PUT', url: `/fhir/Patient?${criteria}`, payload: { resourceType: 'Patient' } }), 400, 'too-costly');
    expectOutcome(await s.request({ method: 'DELETE', url: `/fhir/Patient?${criteria}` }), 400, 'too-costly');
    expectOutcome(await s.request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient' }, headers: { 'if-none-exist': criteria } }), 400, 'too-costly');
    const batch = await s.request({ method: 'POST', url: '/fhir', payload: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Patient?${criteria}` } }] } });
    expect(batch.statusCode).toBe(200);
    const entry = (JSON.parse(batch.body) as ResponseBundle).entry[0]!;
    expect(entry.response.status).toBe('400 Bad Request');
    expect(entry.response.outcome?.issue[0]?.code).toBe('too-costly');
    expect(await versionCount()).toBe(before);
  });
});

// The client runs in its own process: in this process the server could not answer before the client
// had written its whole request, which hides the early-close race that made Node's fetch see EPIPE.
const FETCH_CLIENT = `
const [url, method, headers, bodyMb, chunked] = process.argv.slice(1);
const mb = Number(bodyMb);
const chunk = new TextEncoder().encode('x'.repeat(1024 * 1024));
const body = mb === 0 ? undefined
  : chunked === 'chunked' ? new ReadableStream({ start(c) { for (let i = 0; i < mb; i++) c.enqueue(chunk); c.close(); } })
  : 'x'.repeat(mb * 1024 * 1024);
fetch(url, { method, headers: JSON.parse(headers), body, duplex: 'half' })
  .then(async (r) => console.log(JSON.stringify({ status: r.status, type: r.headers.get('content-type'), body: await r.text() })))
  .catch((e) => console.log(JSON.stringify({ error: String(e.cause ?? e) })));
`;

interface FetchResult {
  status?: number;
  type?: string;
  body?: string;
  error?: string;
}

function fetchInChild(url: string, options: { method?: string; headers?: Record<string, string>; bodyMb?: number; chunked?: boolean } = {}): Promise<FetchResult> {
  const args = [url, options.method ?? 'GET', JSON.stringify(options.headers ?? {}), String(options.bodyMb ?? 0), options.chunked ? 'chunked' : 'length'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', FETCH_CLIENT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(JSON.parse(out.trim() || '{"error":"no output"}') as FetchResult));
  });
}

function expectFetchedOutcome(r: FetchResult, status: number): Outcome['issue'][number] {
  expect(r.error, 'the client must receive the answer').toBeUndefined();
  expect(r.status).toBe(status);
  expect(r.type).toContain('application/fhir+json');
  const body = JSON.parse(r.body!) as Outcome;
  expect(body.resourceType).toBe('OperationOutcome');
  return body.issue[0]!;
}

describe('transport-level refusals on a real port (Node fetch client in another process)', () => {
  it('a 100 KB query string: 414 OperationOutcome with the FHIR content type', async () => {
    const i = expectFetchedOutcome(await fetchInChild(`${base}/Patient?name=${'a'.repeat(100 * 1024)}`), 414);
    expect(i.code).toBe('too-costly');
  });

  it('oversized header fields: 431 OperationOutcome with the FHIR content type', async () => {
    const i = expectFetchedOutcome(await fetchInChild(`${base}/metadata`, { headers: { 'x-padding': 'a'.repeat(20 * 1024) } }), 431);
    expect(i.code).toBe('too-costly');
  });

  it('a 12 MB body (with Content-Length, and chunked): the client receives 413 with an OperationOutcome, nothing stored', async () => {
    const before = await versionCount();
    for (const chunked of [false, true, false]) {
      const r = await fetchInChild(`${base}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, bodyMb: 12, chunked });
      expect(expectFetchedOutcome(r, 413).code).toBe('too-costly');
    }
    expect(await versionCount()).toBe(before);
    expect((await fetch(`${base}/metadata`)).status).toBe(200); // the server keeps serving
  });

  it('a 12 MB body of an unsupported type: the client receives the 415 OperationOutcome (refused unread, like 413)', async () => {
    for (let k = 0; k < 3; k++) {
      const r = await fetchInChild(`${base}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+xml' }, bodyMb: 12 });
      expect(expectFetchedOutcome(r, 415).code).toBe('not-supported');
    }
  });

  it('a path segment over the router limit (414) and a malformed URL (400) answer OperationOutcomes', async () => {
    expectOutcome(await s.request({ method: 'GET', url: `/fhir/Patient/${'a'.repeat(600)}` }), 414, 'too-costly');
    expectOutcome(await s.request({ method: 'GET', url: '/fhir/Patient/%E0%A4%A' }), 400, 'invalid');
  });
});

describe('configured limits', () => {
  it('SEARCH_MAX_* reach search, conditional interactions and batch searches', async () => {
    const small = await startTestServer(undefined, { SEARCH_MAX_PARAMS: '2', SEARCH_MAX_SORT_KEYS: '1' });
    try {
      expect((await small.request({ method: 'GET', url: '/fhir/Patient?family=a&given=b' })).statusCode).toBe(200);
      expectOutcome(await small.request({ method: 'GET', url: '/fhir/Patient?family=a&given=b&gender=male' }), 400, 'too-costly');
      expectOutcome(await small.request({ method: 'GET', url: '/fhir/Patient?_sort=family,given' }), 400, 'too-costly');
      expectOutcome(await small.request({ method: 'DELETE', url: '/fhir/Patient?family=a&given=b&gender=male' }), 400, 'too-costly');
      const tx = await small.request({
        method: 'POST',
        url: '/fhir',
        payload: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'PUT', url: 'Patient?family=a&given=b&gender=male' } }] },
      });
      expectOutcome(tx, 400, 'too-costly');
    } finally {
      await small.close();
    }
  });
});

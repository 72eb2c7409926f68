// R4 JSON fidelity over HTTP: what the client sent is stored exactly (decimal texts) or refused with a
// 4xx OperationOutcome that names the element, and nothing is stored (strict UTF-8, lone surrogates,
// duplicate keys, integer ranges, numbers that overflow, 1 MB strings, search index bound).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const headers = { 'content-type': FHIR_JSON };

/** An Observation as JSON text, with number texts JavaScript would respell. */
function observationText(marker: string, value = '1.00'): string {
  return `{"resourceType":"Observation","status":"final","code":{"text":"${marker}","coding":[{"system":"http://loinc.org","code":"29463-7"}]},` +
    `"valueQuantity":{"value":${value},"unit":"kg"},` +
    `"referenceRange":[{"low":{"value":66.899999999999991},"high":{"value":1.0e2}}],` +
    `"component":[{"code":{"text":"c"},"valueInteger":7}]}`;
}

function numberTexts(body: string): string[] {
  return [...body.matchAll(/"value":(-?[0-9][0-9.eE+-]*)/g)].map((m) => m[1]!);
}

async function countOf(type: string): Promise<number> {
  const res = await s.request({ method: 'GET', url: `/fhir/${type}?_summary=count` });
  return s.json<{ total: number }>(res).total;
}

describe('decimals keep their text', () => {
  it('through create, read, vread, history, search and _summary', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Observation', payload: observationText('create'), headers });
    expect(created.statusCode, created.body).toBe(201);
    expect(numberTexts(created.body)).toEqual(['1.00', '66.899999999999991', '1.0e2']);
    const id = s.json<{ id: string }>(created).id;
    for (const url of [`/fhir/Observation/${id}`, `/fhir/Observation/${id}/_history/1`, `/fhir/Observation/${id}/_history`,
      `/fhir/Observation?_id=${id}`, `/fhir/Observation?value-quantity=1&_id=${id}`, `/fhir/Observation/${id}?_summary=data`]) {
      const res = await s.request({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(numberTexts(res.body), url).toEqual(['1.00', '66.899999999999991', '1.0e2']);
    }
    expect(created.body).toContain('"valueInteger":7');
  });

  it('through update and JSON Patch (untouched decimals keep theirs, patched ones get the patch text)', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Observation', payload: observationText('update'), headers });
    const id = s.json<{ id: string }>(created).id;
    const put = await s.request({ method: 'PUT', url: `/fhir/Observation/${id}`, payload: observationText('update', '2.50').replace('{"resourceType":"Observation",', `{"resourceType":"Observation","id":"${id}",`), headers });
    expect(put.statusCode, put.body).toBe(200);
    expect(numberTexts(put.body)).toEqual(['2.50', '66.899999999999991', '1.0e2']);
    const patch = await s.request({
      method: 'PATCH', url: `/fhir/Observation/${id}`, headers: { 'content-type': 'application/json-patch+json' },
      payload: '[{"op":"replace","path":"/status","value":"amended"},{"op":"replace","path":"/referenceRange/0/high/value","value":120.000}]',
    });
    expect(patch.statusCode, patch.body).toBe(200);
    const read = await s.request({ method: 'GET', url: `/fhir/Observation/${id}` });
    expect(numberTexts(read.body)).toEqual(['2.50', '66.899999999999991', '120.000']);
    expect(s.json<{ status: string }>(read).status).toBe('amended');
  });

  it('through JSON Patch copy (the copy keeps the text) and test (numbers compare by value)', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Observation', payload: observationText('copy', '1.50'), headers });
    const id = s.json<{ id: string }>(created).id;
    const patch = await s.request({
      method: 'PATCH', url: `/fhir/Observation/${id}`, headers: { 'content-type': 'application/json-patch+json' },
      payload: '[{"op":"test","path":"/valueQuantity/value","value":1.5},{"op":"copy","from":"/valueQuantity","path":"/component/0/valueQuantity"},' +
        '{"op":"remove","path":"/component/0/valueInteger"}]',
    });
    expect(patch.statusCode, patch.body).toBe(200);
    const read = await s.request({ method: 'GET', url: `/fhir/Observation/${id}` });
    expect(numberTexts(read.body)).toEqual(['1.50', '66.899999999999991', '1.0e2', '1.50']);
    const failing = await s.request({
      method: 'PATCH', url: `/fhir/Observation/${id}`, headers: { 'content-type': 'application/json-patch+json' },
      payload: '[{"op":"test","path":"/valueQuantity/value","value":1.51},{"op":"replace","path":"/status","value":"amended"}]',
    });
    expect(failing.statusCode, failing.body).toBe(422);
    expect(failing.body).toContain('test operation failed');
    const unchanged = await s.request({ method: 'GET', url: `/fhir/Observation/${id}` });
    expect(s.json<{ meta: { versionId: string } }>(unchanged).meta.versionId).toBe('2');
  });

  it('through a transaction Bundle, in its response and in the stored entries', async () => {
    const entry = (marker: string, value: string) =>
      `{"fullUrl":"urn:uuid:${crypto.randomUUID()}","resource":${observationText(marker, value)},"request":{"method":"POST","url":"Observation"}}`;
    const res = await s.request({
      method: 'POST', url: '/fhir', headers: { ...headers, prefer: 'return=representation' },
      payload: `{"resourceType":"Bundle","type":"transaction","entry":[${entry('tx1', '0.10')},${entry('tx2', '3.000')}]}`,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(numberTexts(res.body)).toEqual(['0.10', '66.899999999999991', '1.0e2', '3.000', '66.899999999999991', '1.0e2']);
    const ids = s.json<{ entry: { resource: { id: string } }[] }>(res).entry.map((e) => e.resource.id);
    const second = await s.request({ method: 'GET', url: `/fhir/Observation/${ids[1]}` });
    expect(numberTexts(second.body)[0]).toBe('3.000');
  });
});

describe('refused input answers 4xx OperationOutcome and stores nothing', () => {
  const patient = (inner: string) => `{"resourceType":"Patient",${inner}}`;
  const cases: [string, string | Buffer, number, string | undefined][] = [
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"resourceType":"Patient","name":[{"family":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]), 400, undefined],
    ['a UTF-8-encoded surrogate (CESU)', Buffer.concat([Buffer.from('{"resourceType":"Patient","name":[{"family":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}]}')]), 400, undefined],
    ['an escaped lone surrogate', patient('"name":[{"family":"a\\ud800b"}]'), 400, undefined],
    ['a duplicate key with the same value', patient('"gender":"male","gender":"male"'), 400, undefined],
    ['a duplicate key with another value', patient('"gender":"male","gender":"female"'), 400, undefined],
    ['an integer past 32 bits', patient('"multipleBirthInteger":2147483648'), 422, 'Patient.multipleBirth.ofType(integer)'],
    ['a number that overflows', '{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e400}}', 400, 'Observation.valueQuantity.value'],
    ['a number that underflows', '{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e-400}}', 400, 'Observation.valueQuantity.value'],
    ['a 4 MB string inside an array', patient(`"name":[{"given":["${'a'.repeat(4 << 20)}"]}]`), 422, 'Patient.name[0].given[0]'],
    ['a string just over 1 MB of UTF-8', patient(`"name":[{"family":"${'é'.repeat((1 << 19) + 1)}"}]`), 422, 'Patient.name[0].family'],
  ];
  it.each(cases)('%s', async (_label, payload, status, expression) => {
    const type = typeof payload === 'string' && payload.includes('Observation') ? 'Observation' : 'Patient';
    const before = await countOf(type);
    const res = await s.request({ method: 'POST', url: `/fhir/${type}`, payload, headers });
    expect(res.statusCode, res.body).toBe(status);
    const body = s.json<{ resourceType: string; issue: { expression?: string[] }[] }>(res);
    expect(body.resourceType).toBe('OperationOutcome');
    if (expression) expect(body.issue.flatMap((i) => i.expression ?? [])).toContain(expression);
    expect(await countOf(type)).toBe(before);
  });

  it('xhtml (Narrative.div) and base64Binary (Attachment.data) over 1 MB are bounded by the body limit only', async () => {
    const data = Buffer.alloc(1_500_000, 7).toString('base64');
    const doc = await s.request({ method: 'POST', url: '/fhir/DocumentReference', headers, payload: { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain', data } }] } });
    expect(doc.statusCode, doc.body.slice(0, 300)).toBe(201);
    const read = await s.request({ method: 'GET', url: `/fhir/DocumentReference/${s.json<{ id: string }>(doc).id}` });
    expect(s.json<{ content: { attachment: { data: string } }[] }>(read).content[0]!.attachment.data).toBe(data);
    const bad = await s.request({ method: 'POST', url: '/fhir/DocumentReference', headers, payload: { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain', data: `${data}A` } }] } });
    expect(bad.statusCode).toBe(422);
    const div = `<div xmlns="http://www.w3.org/1999/xhtml">${'<p>x</p>'.repeat(200_000)}</div>`;
    const narrated = await s.request({ method: 'POST', url: '/fhir/Patient', headers, payload: { resourceType: 'Patient', text: { status: 'generated', div } } });
    expect(narrated.statusCode, narrated.body.slice(0, 300)).toBe(201);
  });

  it('a string of exactly 1 MB is accepted', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: patient(`"name":[{"given":["${'a'.repeat(1 << 20)}"]}]`), headers });
    expect(res.statusCode).toBe(201);
  });
});

describe('search index bound', () => {
  const names = (n: number, givens = 1) =>
    JSON.stringify({
      resourceType: 'Patient',
      name: Array.from({ length: n }, (_, i) => ({ family: `Fam${i}`, ...(givens > 0 ? { given: Array.from({ length: givens }, (_g, j) => `G${i}x${j}`) } : {}) })),
    });

  it('refuses 150,000 names with 422 and stores nothing', async () => {
    const before = await countOf('Patient');
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: names(150_000, 0), headers });
    expect(res.statusCode).toBe(422);
    expect(s.json<{ issue: { code: string }[] }>(res).issue[0]!.code).toBe('too-costly');
    expect(await countOf('Patient')).toBe(before);
  });

  it('refuses a resource whose index rows for one parameter pass the bound (3,000 names x 4 given)', async () => {
    const before = await countOf('Patient');
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: names(3_000, 4), headers });
    expect(res.statusCode, res.body).toBe(422);
    const outcome = s.json<{ issue: { code: string; diagnostics: string }[] }>(res);
    expect(outcome.issue[0]!.code).toBe('too-costly');
    expect(outcome.issue[0]!.diagnostics).toContain("'given'");
    expect(await countOf('Patient')).toBe(before);
  });

  it('stores 5,000 names and finds the resource by its last one', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', payload: names(5_000), headers });
    expect(res.statusCode, res.body.slice(0, 500)).toBe(201);
    const id = s.json<{ id: string }>(res).id;
    const found = await s.request({ method: 'GET', url: '/fhir/Patient?family:exact=Fam4999&_elements=id' });
    expect(s.json<{ entry?: { resource: { id: string } }[] }>(found).entry?.map((e) => e.resource.id)).toEqual([id]);
  });
});

describe('worst-case bodies do not block the server', () => {
  it('a concurrent /healthz on a real port answers within 2 s while they are refused', async () => {
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const address = s.app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const bodies = [
      JSON.stringify({ resourceType: 'Patient', name: [{ given: ['a'.repeat(4 << 20)] }] }),
      JSON.stringify({ resourceType: 'Patient', name: Array.from({ length: 150_000 }, (_, i) => ({ family: `F${i}` })) }),
      JSON.stringify({ resourceType: 'Patient', address: [{ line: Array.from({ length: 2_000 }, () => 'x'.repeat(2_000)) }] }),
    ];
    let slowest = 0;
    let done = false;
    const poll = (async () => {
      while (!done) {
        const t = performance.now();
        const res = await fetch(`${base}/healthz`);
        expect(res.status).toBe(200);
        slowest = Math.max(slowest, performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const statuses = await Promise.all(
      [...bodies, ...bodies].map((body) =>
        fetch(`${base}/fhir/Patient`, { method: 'POST', body, headers }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        }),
      ),
    );
    done = true;
    await poll;
    expect(statuses.slice(0, 2)).toEqual([422, 422]);
    expect(slowest).toBeLessThan(2000);
  });
});

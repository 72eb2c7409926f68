// Content negotiation on every FHIR route (R4 HTTP, RFC 9110 12.5.1): an Accept that excludes every
// format a route serves (`*/*;q=0`, XML only, text/plain) is answered 406 with an OperationOutcome, and
// nothing is written; `_format` wins over Accept; `*/*`, application/json and application/fhir+json keep
// working, and the coordination form serves its HTML page exactly when it is preferred.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  const put = await s.request({ method: 'PUT', url: '/fhir/Patient/neg-1', headers: { 'content-type': 'application/fhir+json' }, payload: { resourceType: 'Patient', id: 'neg-1', gender: 'female' } });
  expect(put.statusCode).toBe(201);
});
afterAll(async () => {
  await s.close();
});

const get = (url: string, accept?: string): Promise<LightMyRequestResponse> => s.request({ method: 'GET', url, headers: accept === undefined ? {} : { accept } });

function expectNotAcceptable(res: LightMyRequestResponse): { diagnostics?: string } {
  expect(res.statusCode, res.body).toBe(406);
  expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
  const body = JSON.parse(res.body) as { resourceType: string; issue: { severity: string; code: string; diagnostics?: string }[] };
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue[0]).toMatchObject({ severity: 'error', code: 'not-supported' });
  return body.issue[0]!;
}

const EXCLUDING = [
  '*/*;q=0',
  '*/*; q=0.000',
  'application/fhir+json;q=0, application/json;q=0',
  'application/*;q=0, text/*',
  'text/plain',
  'text/html',
  'application/xml',
];

describe('FHIR JSON routes', () => {
  const routes = ['/fhir/metadata', '/fhir/Patient/neg-1', '/fhir/Patient?gender=female', '/fhir/Patient/neg-1/_history', '/fhir/_history'];

  it.each(EXCLUDING)('answer 406 with an OperationOutcome for Accept: %s', async (accept) => {
    for (const url of routes) expectNotAcceptable(await get(url, accept));
  });

  it('say XML is not supported when XML was what the client accepts', async () => {
    expect(expectNotAcceptable(await get('/fhir/metadata', 'application/fhir+xml;q=0.9, text/plain;q=0')).diagnostics).toMatch(/XML is not supported/);
    expect(expectNotAcceptable(await get('/fhir/metadata', '*/*;q=0')).diagnostics).toMatch(/application\/fhir\+json/);
  });

  it.each([
    undefined,
    '',
    '*/*',
    'application/*',
    'application/fhir+json',
    'application/fhir+json; fhirVersion=4.0',
    'APPLICATION/FHIR+JSON',
    'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'application/fhir+xml, application/fhir+json;q=0.1',
    '*/*;q=0.5, application/json;q=0',
  ])('serve JSON for Accept: %s', async (accept) => {
    for (const url of routes) {
      const res = await get(url, accept);
      expect(res.statusCode, `${url} ${accept} ${res.body}`).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    }
  });

  it('label the answer application/json when that is the JSON type the client prefers, answers and errors alike', async () => {
    const plain = /^application\/json; charset=utf-8$/;
    for (const accept of ['application/json', 'application/json, application/fhir+json;q=0.9', 'application/fhir+json;q=0.2, application/json;q=0.8']) {
      for (const url of routes) {
        const res = await get(url, accept);
        expect(res.statusCode, `${url} ${accept}`).toBe(200);
        expect(res.headers['content-type'], `${url} ${accept}`).toMatch(plain);
        // Same document, only the label differs.
        expect((JSON.parse(res.body) as { resourceType: string }).resourceType).toBe((JSON.parse((await get(url)).body) as { resourceType: string }).resourceType);
      }
    }
    const missing = await get('/fhir/Patient/neg-none', 'application/json');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(plain);
    expect((JSON.parse(missing.body) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    const created = await s.request({
      method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/json', accept: 'application/json' }, payload: { resourceType: 'Patient', gender: 'male' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers['content-type']).toMatch(plain);
    expect((await get('/fhir/Patient/neg-1?_format=application/json', 'application/fhir+json')).headers['content-type']).toMatch(plain);
    // Equal preference, or the fhir+json alias: FHIR's own type, as before.
    for (const [url, accept] of [['/fhir/Patient/neg-1', 'application/*'], ['/fhir/Patient/neg-1', 'application/fhir+json, application/json'], ['/fhir/Patient/neg-1?_format=json', 'application/json']] as const) {
      expect((await get(url, accept)).headers['content-type'], `${url} ${accept}`).toMatch(/^application\/fhir\+json/);
    }
  });

  it('let _format win over Accept, both ways', async () => {
    expect((await get('/fhir/Patient/neg-1?_format=json', '*/*;q=0')).statusCode).toBe(200);
    // Unescaped, the '+' of the media type arrives as a space.
    expect((await get('/fhir/Patient/neg-1?_format=application/fhir+json', 'application/xml')).statusCode).toBe(200);
    expect((await get('/fhir/Patient/neg-1?_format=application%2Ffhir%2Bjson', 'application/xml')).statusCode).toBe(200);
    expect(expectNotAcceptable(await get('/fhir/Patient/neg-1?_format=xml', 'application/fhir+json')).diagnostics).toMatch(/XML is not supported/);
    expectNotAcceptable(await get('/fhir/Patient/neg-1?_format=text/html', '*/*'));
  });

  it('refuse a write with 406 before anything is stored', async () => {
    const res = await s.request({
      method: 'PUT',
      url: '/fhir/Patient/neg-refused',
      headers: { 'content-type': 'application/fhir+json', accept: '*/*;q=0' },
      payload: { resourceType: 'Patient', id: 'neg-refused' },
    });
    expectNotAcceptable(res);
    expect((await get('/fhir/Patient/neg-refused')).statusCode).toBe(404);
  });
});

describe('the coordination form', () => {
  const FORM = '/fhir/Patient/neg-1/$coordination-form';
  const isHtml = (res: LightMyRequestResponse): boolean => String(res.headers['content-type']).startsWith('text/html');

  it('serves HTML when HTML is preferred, the document when JSON is, and 406 when neither is acceptable', async () => {
    for (const accept of ['text/html', 'application/xhtml+xml', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'text/*', 'application/json;q=0.5, text/html']) {
      const res = await get(FORM, accept);
      expect(res.statusCode, `${accept} ${res.body}`).toBe(200);
      expect(isHtml(res), accept).toBe(true);
    }
    for (const accept of [undefined, '*/*', 'application/fhir+json', 'text/html;q=0, */*', 'application/fhir+json, text/html']) {
      const res = await get(FORM, accept);
      expect(res.statusCode, `${accept} ${res.body}`).toBe(200);
      expect(res.headers['content-type'], accept).toMatch(/^application\/fhir\+json/);
    }
    for (const accept of ['application/json', 'text/html;q=0.5, application/json']) {
      const res = await get(FORM, accept);
      expect(res.statusCode, `${accept} ${res.body}`).toBe(200);
      expect(res.headers['content-type'], accept).toMatch(/^application\/json; charset=utf-8$/);
    }
    for (const accept of ['*/*;q=0', 'text/plain', 'application/xml', 'text/html;q=0, application/*;q=0']) expectNotAcceptable(await get(FORM, accept));
  });

  it('lets _format win over Accept', async () => {
    expect(isHtml(await get(`${FORM}?_format=html`, 'application/fhir+json'))).toBe(true);
    expect(isHtml(await get(`${FORM}?_format=text/html`, '*/*;q=0'))).toBe(true);
    const json = await get(`${FORM}?_format=json`, 'text/html');
    expect(json.statusCode).toBe(200);
    expect(json.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expectNotAcceptable(await get(`${FORM}?_format=xml`, 'text/html'));
  });
});

describe('$import error files', () => {
  it('are NDJSON: 406 before anything else for an Accept that excludes it', async () => {
    expectNotAcceptable(await get('/fhir/$import-status/none/errors/0', '*/*;q=0'));
    expectNotAcceptable(await get('/fhir/$import-status/none/errors/0', 'application/fhir+json'));
    for (const accept of ['*/*', 'application/fhir+ndjson', 'application/ndjson']) expect((await get('/fhir/$import-status/none/errors/0', accept)).statusCode).toBe(404);
  });
});

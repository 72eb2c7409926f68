// A transaction Bundle whose database transaction is retried (a serialization failure, a unique-key race)
// runs again from the request's entries: the retry matches conditional creates and resolves references
// anew, against what committed in between, instead of reusing what the failed attempt decided.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/storage/database.js';
import { createServer, type Server } from '../../src/server.js';
import { openTestDatabase } from '../support/db.js';
import { testConfig } from '../support/server.js';

/** What runs between the failed attempt and its retry (another client's commit). */
let failNextTransaction: (() => Promise<void>) | undefined;

/** The test database, except that one chosen transaction fails like a serialization failure at commit. */
function faulty(db: Database): Database {
  return {
    ...db,
    async transaction(fn, options) {
      const between = failNextTransaction;
      if (!between) return db.transaction(fn, options);
      failNextTransaction = undefined;
      try {
        await db.transaction(async (tx) => {
          await fn(tx);
          throw Object.assign(new Error('could not serialize access due to concurrent update'), { code: '40001' });
        }, options);
      } catch (err) {
        await between();
        throw err;
      }
      throw new Error('unreachable');
    },
  };
}

let db: Database;
let server: Server;
const request = (options: InjectOptions): Promise<LightMyRequestResponse> => server.app.inject(options);

beforeAll(async () => {
  db = await openTestDatabase();
  server = await createServer(testConfig(), false, faulty(db), { webhookResolver: () => Promise.resolve([]) });
  await server.app.ready();
});
afterAll(async () => {
  await server.close();
});

describe('a retried transaction Bundle', () => {
  it('matches its conditional create again instead of reusing the first attempt match, and points references at the resource it creates', async () => {
    const created = await request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'retry-1' }] } });
    expect(created.statusCode).toBe(201);
    const first = (JSON.parse(created.body) as { id: string }).id;
    // The first attempt matches that Patient; before the retry another client deletes it.
    failNextTransaction = async () => {
      const deleted = await request({ method: 'DELETE', url: `/fhir/Patient/${first}` });
      expect(deleted.statusCode).toBe(204);
    };
    const res = await request({
      method: 'POST',
      url: '/fhir',
      payload: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:7d1c6e00-0000-4000-8000-000000000001',
            resource: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'retry-1' }] },
            request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:mrn|retry-1' },
          },
          {
            resource: { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: 'urn:uuid:7d1c6e00-0000-4000-8000-000000000001' } },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      },
    });
    expect(failNextTransaction).toBeUndefined();
    expect(res.statusCode).toBe(200);
    const entries = (JSON.parse(res.body) as { entry: { response: { status: string; location?: string } }[] }).entry;
    // The retry found no match any more: it created the Patient, and the Observation refers to it.
    expect(entries.map((e) => e.response.status)).toEqual(['201 Created', '201 Created']);
    const patientId = /Patient\/([^/]+)/.exec(entries[0]!.response.location!)![1]!;
    expect(patientId).not.toBe(first);
    const observationId = /Observation\/([^/]+)/.exec(entries[1]!.response.location!)![1]!;
    const observation = JSON.parse((await request({ method: 'GET', url: `/fhir/Observation/${observationId}` })).body) as { subject: { reference: string } };
    expect(observation.subject.reference).toBe(`Patient/${patientId}`);
    expect((await request({ method: 'GET', url: `/fhir/Patient/${patientId}` })).statusCode).toBe(200);
  });

  it('resolves a conditional reference again on the retry', async () => {
    const old = await request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'retry-2' }] } });
    const oldId = (JSON.parse(old.body) as { id: string }).id;
    let newId = '';
    // Before the retry the identifier moves to another Patient.
    failNextTransaction = async () => {
      expect((await request({ method: 'DELETE', url: `/fhir/Patient/${oldId}` })).statusCode).toBe(204);
      const moved = await request({ method: 'POST', url: '/fhir/Patient', payload: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'retry-2' }] } });
      newId = (JSON.parse(moved.body) as { id: string }).id;
    };
    const res = await request({
      method: 'POST',
      url: '/fhir',
      payload: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: 'Patient?identifier=urn:mrn|retry-2' } },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    const location = (JSON.parse(res.body) as { entry: { response: { location: string } }[] }).entry[0]!.response.location;
    const observation = JSON.parse((await request({ method: 'GET', url: `/fhir/${location.split('/fhir/')[1]!.split('/_history')[0]!}` })).body) as { subject: { reference: string } };
    expect(observation.subject.reference).toBe(`Patient/${newId}`);
  });
});

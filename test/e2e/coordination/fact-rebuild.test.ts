// Resources stored before the coordination fact projection existed (or built by an older derivation)
// still bind the rules: the server rebuilds the projection at startup, before it serves a write.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createServer, type Server } from '../../../src/server.js';
import type { Database } from '../../../src/storage/database.js';
import { careTeam, ORGS, ROLES } from '../../unit/coordination/builders.js';
import { openTestDatabase } from '../../support/db.js';
import type { TestServer } from '../../support/server.js';
import { expectAccepted, expectRejected, member, put, seed } from './support.js';

let db: Database;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db.close();
});

/** A server over the shared test database that leaves it open when it closes (so a second one can start). */
async function start(): Promise<TestServer> {
  const server: Server = await createServer(loadConfig({ BASE_URL: 'http://concord.test/fhir', HOST: '127.0.0.1', CONCORD_AUTH: 'off' }), false, { ...db, close: () => Promise.resolve() });
  await server.app.ready();
  return { ...server, db, request: (o) => server.app.inject(o), json: <T>(res: LightMyRequestResponse) => JSON.parse(res.body) as T };
}

const planLead = (id: string, patient: string) =>
  careTeam(id, [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], period: { start: '2026-01-01' } }], { patient });
const homeLead = (id: string, patient: string) =>
  careTeam(id, [{ member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], period: { start: '2026-03-01' } }], { patient });

describe('coordination facts rebuilt at startup', () => {
  it('a lead stored before the projection was built still blocks an overlapping lead after a restart', async () => {
    const first = await start();
    await seed(first);
    const m = await member(first, 'fr-member');
    expectAccepted(await put(first, planLead('fr-first', m)), 201);
    await first.close();

    // As if the lead had been stored by a Concord without the projection: no facts, version 0.
    await db.query('DELETE FROM coordination_fact');
    await db.query('UPDATE coordination_fact_state SET version = 0');

    const second = await start();
    try {
      expectRejected(await put(second, homeLead('fr-second', m)), 'single-lead', { diagnostics: ['CareTeam/fr-first participant[0]'] });
      expect((await db.query<{ version: number }>('SELECT version FROM coordination_fact_state')).rows[0]?.version).toBeGreaterThan(0);
    } finally {
      await second.close();
    }
  });
});

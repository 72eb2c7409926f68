// `npm run seed` against a Concord listening on a real port: every scenario loads through the REST API
// (all profiles and coordination rules apply), and a second run creates nothing.
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS, SeedError, load, parseCommandLine, seed, type SeedResult } from '../../scripts/seed/main.js';
import { SEED_IDENTIFIER_SYSTEM, SEED_TAG_SYSTEM, type ScenarioName } from '../../scripts/seed/fhir.js';
import { EXTENSION_URLS, PROFILE_URLS } from '../../src/fhir/profiles/urls.js';
import { startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let url: string;
beforeAll(async () => {
  s = await startTestServer();
  const address = await s.app.listen({ port: 0, host: '127.0.0.1' });
  url = `${address}/fhir`;
});
afterAll(async () => {
  await s?.close();
});

/** How many resources of a type the scenario's tag finds on the server. */
async function count(scenario: ScenarioName, type: string): Promise<number> {
  const query = new URLSearchParams({ _tag: `${SEED_TAG_SYSTEM}|${scenario}`, _summary: 'count', _total: 'accurate' });
  const res = await fetch(`${url}/${type}?${query.toString()}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as Bundle).total ?? -1;
}

async function countAll(scenario: ScenarioName, types: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of types) out[t] = await count(scenario, t);
  return out;
}

async function search(type: string, query: Record<string, string>): Promise<Bundle> {
  const res = await fetch(`${url}/${type}?${new URLSearchParams(query).toString()}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Bundle;
}

const EXPECTED: Record<ScenarioName, Record<string, number>> = {
  ny: {
    Organization: 5,
    Practitioner: 4,
    PractitionerRole: 4,
    Questionnaire: 1,
    Patient: 2,
    EpisodeOfCare: 4,
    QuestionnaireResponse: 2,
    CareTeam: 4,
    CarePlan: 2,
    ServiceRequest: 8,
  },
  ma: {
    Organization: 5,
    Practitioner: 5,
    PractitionerRole: 5,
    Patient: 2,
    EpisodeOfCare: 4,
    DocumentReference: 1,
    CareTeam: 2,
    Consent: 2,
    ServiceRequest: 7,
  },
  mn: {
    Organization: 2,
    Practitioner: 3,
    PractitionerRole: 3,
    Patient: 2,
    EpisodeOfCare: 4,
    DocumentReference: 2,
    CareTeam: 2,
    ServiceRequest: 5,
  },
};

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

describe.each(['ny', 'ma', 'mn'] as const)('seed --scenario %s', (scenario) => {
  const expected = EXPECTED[scenario];
  const types = Object.keys(expected);
  let first: SeedResult;
  const lines: string[] = [];

  it('loads every Bundle through the REST API with progress output', async () => {
    first = await seed(url, scenario, (l) => lines.push(l));
    expect(first.created).toBe(total(expected));
    expect(first.existing).toBe(0);
    expect(first.byType).toEqual(expected);
    expect(lines.filter((l) => new RegExp(`^\\[${scenario}\\] \\d+/${first.bundles} bundles, \\d+ resources`).test(l))).toHaveLength(first.bundles);
    expect(lines.at(-1)).toContain(`${total(expected)} created`);
    expect(await countAll(scenario, types)).toEqual(expected);
  });

  it('is idempotent: a second run finds everything and creates nothing', async () => {
    const again = await seed(url, scenario, () => undefined);
    expect(again.created).toBe(0);
    expect(again.existing).toBe(total(expected));
    expect(await countAll(scenario, types)).toEqual(expected);
  });
});

describe('seeded data', () => {
  it('claims the Concord profiles and carries the coordination structure', async () => {
    const teams = await search('CareTeam', { _tag: `${SEED_TAG_SYSTEM}|ny`, _profile: PROFILE_URLS.coordinationCareTeam });
    expect(teams.entry).toHaveLength(4);
    const plans = await search('CarePlan', { _tag: `${SEED_TAG_SYSTEM}|ny` });
    const appendices = (plans.entry ?? []).map((e) =>
      (e.resource as { extension?: { url: string; valueCoding?: { code?: string } }[] }).extension?.find((x) => x.url === EXTENSION_URLS.asaAppendix)?.valueCoding?.code,
    );
    expect(appendices.sort()).toEqual(['A', 'B']);
    const optOut = await search('Consent', { _tag: `${SEED_TAG_SYSTEM}|ma`, scope: 'treatment' });
    expect(optOut.entry).toHaveLength(1);
  });

  it('is live for the coordination rules: a second lead for a seeded NY member is refused', async () => {
    const teams = await search('CareTeam', { identifier: `${SEED_IDENTIFIER_SYSTEM}|ny-team-rivera-hh` });
    const team = teams.entry?.[0]?.resource as { participant: { role?: unknown[]; extension?: unknown[] }[] } | undefined;
    expect(team).toBeDefined();
    const lead = (await search('CareTeam', { identifier: `${SEED_IDENTIFIER_SYSTEM}|ny-team-rivera-mltcp` })).entry?.[0]?.resource as {
      participant: { role?: unknown[]; extension?: unknown[] }[];
    };
    // Make the Health Home care manager a lead too, with the same designation: single-lead must refuse it.
    team!.participant[0]!.role = lead.participant[0]!.role;
    team!.participant[0]!.extension = [lead.participant[0]!.extension![0], ...(team!.participant[0]!.extension ?? [])];
    const res = await fetch(`${url}/CareTeam/$validate`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(team) });
    const outcome = (await res.json()) as OperationOutcome;
    expect(outcome.issue?.flatMap((i) => i.details?.coding?.map((c) => c.code) ?? [])).toContain('single-lead');
  });

  it('stops at a Bundle the server refuses and prints its OperationOutcome diagnostics', async () => {
    // The MN Elderly Waiver member again as a new member, but enrolled in SNBC + a disability waiver: the MCO
    // may then not hold waiver case management.
    const bundles = SCENARIOS.mn().slice(0, 2);
    const text = JSON.stringify(bundles[1]!.bundle)
      .replaceAll('mn-member-johnson', 'mn-member-broken')
      .replaceAll('mn-eoc-johnson', 'mn-eoc-broken')
      .replaceAll('mn-team-johnson', 'mn-team-broken')
      .replaceAll('mn-doc-johnson', 'mn-doc-broken')
      .replaceAll('mn-sr-johnson', 'mn-sr-broken')
      // an SNBC-only member cannot have the MCO hold Elderly Waiver case management
      .replaceAll('"code":"mn-msho"', '"code":"mn-snbc"')
      .replaceAll('"code":"mn-elderly-waiver"', '"code":"mn-disability-waiver"');
    const broken = [bundles[0]!, { label: 'broken member', bundle: JSON.parse(text) as Bundle }];
    const lines: string[] = [];
    const err = await load(url, 'mn-broken', broken, (l) => lines.push(l)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SeedError);
    expect((err as SeedError).status).toBe(422);
    expect(lines.some((l) => l.includes('2/2 (broken member) was rejected: HTTP 422'))).toBe(true);
    expect(lines.some((l) => l.includes('[waiver-case-manager-matches-waiver]'))).toBe(true);
    expect(await count('mn', 'Patient')).toBe(2);
  });

  it('reports a server that answers with something other than a Bundle', async () => {
    const lines: string[] = [];
    await expect(seed(`${url.replace(/\/fhir$/, '')}/nowhere`, 'mn', (l) => lines.push(l))).rejects.toBeInstanceOf(SeedError);
    expect(lines.some((l) => /rejected: HTTP 404/.test(l))).toBe(true);
  });
});

describe('command line', () => {
  it('parses --scenario and --url, defaulting to CONCORD_URL then localhost', () => {
    expect(parseCommandLine(['--scenario', 'ny'], {})).toEqual({ scenarios: ['ny'], url: 'http://localhost:8080/fhir' });
    expect(parseCommandLine(['--scenario', 'all'], { CONCORD_URL: 'http://concord:9000/fhir' })).toEqual({
      scenarios: ['ny', 'ma', 'mn'],
      url: 'http://concord:9000/fhir',
    });
    expect(parseCommandLine(['--scenario=mn', '--url', 'http://h:1/fhir'], {}).url).toBe('http://h:1/fhir');
    expect(() => parseCommandLine(['--scenario', 'tx'], {})).toThrow(SeedError);
    expect(() => parseCommandLine([], {})).toThrow(/--scenario is required/);
  });
});

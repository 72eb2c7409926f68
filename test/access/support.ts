// Two organizations and a member each, over HTTP with authentication on: what the access tests share.
import type { LightMyRequestResponse } from 'fastify';
import type { TestServer } from '../support/server.js';
import { FHIR_JSON } from '../support/server.js';
import { accessToken, bearer, registerClient, startAuthServer } from '../auth/support.js';
import type { Backend } from '../support/db.js';

export const PROGRAM = 'https://concord-fhir.org/fhir/CodeSystem/program';
export const CODE = { system: 'http://loinc.org', code: '72166-2' };
export const ONLY_B = { system: 'http://loinc.org', code: '8867-4' };

export interface World {
  server: TestServer;
  /** Tokens: `a` acts for Organization/org-a, `b` for Organization/org-b, `admin` for none. */
  a: string;
  b: string;
  admin: string;
  as(token: string, method: string, url: string, payload?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export async function startWorld(backend?: Backend, env: Record<string, string> = {}): Promise<World> {
  const server = await startAuthServer(env, backend);
  const token = async (id: string, organization?: string) =>
    accessToken(server, await registerClient(server, id, organization ? { organization } : {}), 'system/*.cruds');
  const world: World = {
    server,
    a: await token('client-a', 'Organization/org-a'),
    b: await token('client-b', 'Organization/org-b'),
    admin: await token('client-admin'),
    as: (t, method, url, payload, headers = {}) =>
      server.request({
        method: method,
        url,
        headers: { ...bearer(t), ...(payload === undefined ? {} : { 'content-type': headers['content-type'] ?? FHIR_JSON }), ...headers },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      }),
  };
  return world;
}

/** The directory and both members, written by the administrative client. */
export async function seed(world: World): Promise<void> {
  const entries: unknown[] = [
    { resourceType: 'Organization', id: 'org-a', name: 'Plan A' },
    { resourceType: 'Organization', id: 'org-b', name: 'Health Home B' },
    { resourceType: 'Practitioner', id: 'pr-b', name: [{ family: 'Bee' }] },
    { resourceType: 'Patient', id: 'pa', name: [{ family: 'Alpha' }], managingOrganization: { reference: 'Organization/org-a' } },
    { resourceType: 'Patient', id: 'pb', name: [{ family: 'Bravo' }], managingOrganization: { reference: 'Organization/org-b' } },
    episode('eoc-a', 'pa', 'org-a'),
    observation('obs-a', 'pa', CODE),
    // Visible to A (pa's record only): focus is not a compartment parameter, it points at the invisible pb.
    { ...observation('obs-a-focus', 'pa', CODE), focus: [{ reference: 'Patient/pb' }] },
    // In both members' compartments (performer pb): visible only to who sees both.
    { ...observation('obs-both', 'pa', CODE), performer: [{ reference: 'Patient/pb' }] },
    observation('obs-b', 'pb', CODE),
    observation('obs-b-only', 'pb', ONLY_B),
  ];
  for (const r of entries) {
    const { resourceType, id } = r as { resourceType: string; id: string };
    const res = await world.as(world.admin, 'PUT', `/fhir/${resourceType}/${id}`, r);
    if (res.statusCode >= 300) throw new Error(`seeding ${resourceType}/${id}: ${res.statusCode} ${res.body}`);
  }
}

export function episode(id: string, patient: string, org: string, period: { start: string; end?: string } = { start: '2025-01-01' }) {
  return {
    resourceType: 'EpisodeOfCare',
    id,
    status: 'active',
    type: [{ coding: [{ system: PROGRAM, code: 'ma-aco' }] }],
    patient: { reference: `Patient/${patient}` },
    managingOrganization: { reference: `Organization/${org}` },
    period,
  };
}

export function observation(id: string, patient: string, code: { system: string; code: string }) {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [code] },
    subject: { reference: `Patient/${patient}` },
    identifier: [{ system: 'urn:test:obs', value: id }],
  };
}

export function sharingConsent(id: string, patient: string, org: string) {
  return {
    resourceType: 'Consent',
    id,
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patient}` },
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: { type: 'permit', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV' }] }, reference: { reference: `Organization/${org}` } }] },
  };
}

export function optOut(id: string, patient: string, org: string) {
  return {
    resourceType: 'Consent',
    id,
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'treatment' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patient}` },
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTOUT' }] },
    provision: { type: 'deny', period: { start: '2026-01-01' }, actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV' }] }, reference: { reference: `Organization/${org}` } }] },
  };
}

interface SearchSet {
  total?: number;
  entry?: { resource?: { resourceType: string; id: string }; response?: { status: string }; search?: { mode: string } }[];
}

/** `Type/id` of the entries of a searchset or history Bundle. */
export function idsOf(res: LightMyRequestResponse): string[] {
  const bundle = JSON.parse(res.body) as SearchSet;
  return (bundle.entry ?? []).flatMap((e) => (e.resource ? [`${e.resource.resourceType}/${e.resource.id}`] : []));
}

export function totalOf(res: LightMyRequestResponse): number | undefined {
  return (JSON.parse(res.body) as SearchSet).total;
}

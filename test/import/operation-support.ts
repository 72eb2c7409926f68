// Helpers of the $import HTTP tests: the kick-off Parameters, the kick-off request, polling.
import type { CareTeam, Resource } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { FHIR_JSON, type TestServer } from '../support/server.js';

/** A copy of the member's lead team, with another care manager of the same organization as lead. */
export function rivalLead(resources: readonly Resource[], teamId: string, id: string): CareTeam {
  const team = resources.find((r) => r.id === teamId) as CareTeam;
  const lead = team.participant![0]!;
  const org = team.managingOrganization![0]!.reference;
  const other = resources.find((r) => r.resourceType === 'PractitionerRole' && r.organization?.reference === org && `PractitionerRole/${r.id}` !== lead.member?.reference)!;
  return { ...team, id, participant: [{ ...lead, member: { reference: `PractitionerRole/${other.id}` } }, ...team.participant!.slice(1)] };
}

export function importParameters(inputs: readonly { type: string; url: string }[], extra: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'inputFormat', valueCode: 'application/fhir+ndjson' },
      { name: 'inputSource', valueUri: 'https://legacy.example' },
      ...inputs.map((i) => ({ name: 'input', part: [{ name: 'type', valueCode: i.type }, { name: 'url', valueUri: i.url }] })),
      ...extra,
    ],
  };
}

export const kickoff = (s: TestServer, body: unknown, headers: Record<string, string> = { prefer: 'respond-async' }): Promise<LightMyRequestResponse> =>
  s.request({ method: 'POST', url: '/fhir/$import', headers: { 'content-type': FHIR_JSON, ...headers }, payload: JSON.stringify(body) });

/** The status path of a kick-off answer (Content-Location is absolute). */
export function statusPath(res: LightMyRequestResponse): string {
  expect(res.statusCode, res.body).toBe(202);
  const location = String(res.headers['content-location']);
  expect(location).toMatch(/^http:\/\/concord\.test\/fhir\/\$import-status\/[0-9a-f-]{36}$/);
  return new URL(location).pathname;
}

/** Polls until the job is no longer running; returns the last answer and every X-Progress seen. */
export async function poll(s: TestServer, path: string, headers: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ res: LightMyRequestResponse; progress: string[] }> {
  const progress: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await s.request({ method: 'GET', url: path, headers });
    if (res.statusCode !== 202) return { res, progress };
    progress.push(String(res.headers['x-progress']));
    if (Date.now() > deadline) throw new Error(`job still running after ${timeoutMs} ms: ${progress.at(-1)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function byType(resources: readonly Resource[]): Map<string, Resource[]> {
  const out = new Map<string, Resource[]>();
  for (const r of resources) out.set(r.resourceType, [...(out.get(r.resourceType) ?? []), r]);
  return out;
}


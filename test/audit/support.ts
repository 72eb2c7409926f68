// Helpers for the audit tests: an authenticated server with an administrative client and an organization's
// client, and direct reads of the audit store (what is stored, independent of the API that shows it).
import type { AuditEvent } from '@medplum/fhirtypes';
import type { InjectOptions } from 'fastify';
import type { Backend } from '../support/db.js';
import type { TestServer } from '../support/server.js';
import { accessToken, bearer, registerClient, startAuthServer, type TestClient } from '../auth/support.js';

export interface AuditFixture {
  server: TestServer;
  admin: TestClient;
  plan: TestClient;
  adminToken: string;
  planToken: string;
  /** Requests as the administrative client / as the plan's client. */
  asAdmin: (options: InjectOptions) => ReturnType<TestServer['request']>;
  asPlan: (options: InjectOptions) => ReturnType<TestServer['request']>;
}

export async function startAuditFixture(backend?: Backend, env: Record<string, string> = {}): Promise<AuditFixture> {
  const server = await startAuthServer(env, backend);
  const admin = await registerClient(server, 'auditor');
  const plan = await registerClient(server, 'plan-client', { organization: 'Organization/plan-a' });
  const adminToken = await accessToken(server, admin);
  const planToken = await accessToken(server, plan);
  const as = (token: string) => (options: InjectOptions) => server.request({ ...options, headers: { ...bearer(token), ...(options.headers ?? {}) } });
  return { server, admin, plan, adminToken, planToken, asAdmin: as(adminToken), asPlan: as(planToken) };
}

/** A server whose every request carries the token (for helpers written for an unauthenticated server). */
export function withToken(server: TestServer, token: string): TestServer {
  return { ...server, request: (options) => server.request({ ...options, headers: { ...bearer(token), ...(options.headers ?? {}) } }) };
}

/** Stored AuditEvents whose entity references include ref (newest last). */
export async function eventsFor(server: TestServer, ref: string): Promise<AuditEvent[]> {
  const res = await server.db.query<{ content: string }>('SELECT content FROM audit_event WHERE $1 = ANY(entity_refs) ORDER BY seq', [ref]);
  return res.rows.map((r) => JSON.parse(r.content) as AuditEvent);
}

/** Stored AuditEvents matching a SQL condition on the audit_event columns (newest last). */
export async function eventsWhere(server: TestServer, condition: string, params: unknown[] = []): Promise<AuditEvent[]> {
  const res = await server.db.query<{ content: string }>(`SELECT content FROM audit_event WHERE ${condition} ORDER BY seq`, params);
  return res.rows.map((r) => JSON.parse(r.content) as AuditEvent);
}

export async function auditCount(server: TestServer): Promise<number> {
  const res = await server.db.query<{ n: string | number }>('SELECT count(*) AS n FROM audit_event');
  return Number(res.rows[0]!.n);
}

export const subtypeOf = (e: AuditEvent): string | undefined => e.subtype?.[0]?.code;
export const clientOf = (e: AuditEvent): string | undefined => e.agent?.[0]?.who?.identifier?.value;
export const entityRefs = (e: AuditEvent): string[] => (e.entity ?? []).flatMap((x) => (x.what?.reference ? [x.what.reference] : []));
export const queryOf = (e: AuditEvent): string | undefined => {
  const q = e.entity?.find((x) => x.query)?.query;
  return q === undefined ? undefined : Buffer.from(q, 'base64').toString('utf8');
};

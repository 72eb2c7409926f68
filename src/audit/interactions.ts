// The interactions Concord audits and how each is coded in the AuditEvent (IHE Basic Audit Log Patterns:
// type `rest`, subtype the FHIR restful-interaction, action C/R/U/D/E).
import type { AuditAction } from './types.js';

export type RestInteraction =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'create'
  | 'search-type'
  | 'search-system'
  | 'transaction'
  | 'batch'
  | 'operation';

/** A REST interaction, or a request to the token endpoint. */
export type AuditedInteraction = RestInteraction | 'token';

const ACTIONS: Record<AuditedInteraction, AuditAction> = {
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  'history-type': 'R',
  'history-system': 'R',
  'search-type': 'R',
  'search-system': 'R',
  create: 'C',
  update: 'U',
  patch: 'U',
  delete: 'D',
  transaction: 'E',
  batch: 'E',
  operation: 'E',
  token: 'E',
};

export function actionOf(interaction: AuditedInteraction): AuditAction {
  return ACTIONS[interaction];
}

/** The interaction a stored write was made by (batch entries: each is audited on its own). */
export function interactionOfMethod(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'): RestInteraction {
  return method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : 'delete';
}

const INSTANCE_LEVEL = new Set<AuditedInteraction>(['read', 'vread', 'update', 'patch', 'delete', 'history-instance']);

export function isInstanceLevel(interaction: AuditedInteraction): boolean {
  return INSTANCE_LEVEL.has(interaction);
}

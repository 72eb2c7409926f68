// What every authenticated request carries, so that later authorization steps (organization-scoped
// access to members' records, AuditEvents) can decide from it without reading the token again.
import type { ScopeSet } from './scopes.js';

export interface AuthContext {
  clientId: string;
  /** `Organization/<id>` the client acts for; undefined for administrative clients. */
  organization?: string;
  scopes: ScopeSet;
}

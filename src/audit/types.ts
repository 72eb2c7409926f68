// What the audit trail stores and how it is queried. Defined here (no SQL) and implemented in
// src/storage/audit-store.ts; the HTTP layer and the write path only see these shapes.
import type { AuditEvent } from '@medplum/fhirtypes';

export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
/** FHIR audit-event-outcome: success, minor failure (4xx), serious failure (5xx). */
export type AuditOutcome = '0' | '4' | '8' | '12';

/** One AuditEvent with the few facts the search reads, as one row of the store. */
export interface AuditRecord {
  id: string;
  /** ISO instant, AuditEvent.recorded. */
  recorded: string;
  /** AuditEvent.type code (`rest`, or DICOM `110114` for token requests). */
  type: string;
  /** AuditEvent.subtype code (restful-interaction, or DICOM `110122` for token requests). */
  subtype: string;
  action: AuditAction;
  outcome: AuditOutcome;
  clientId?: string;
  /** `Organization/<id>` the client acts for. */
  organization?: string;
  /** entity.what references, as `Type/id` without version. */
  entities: string[];
  /** The members concerned, as `Patient/id`. */
  patients: string[];
  resource: AuditEvent;
}

/** An AuditEvent search (src/audit/search.ts parses it from the FHIR parameters). */
export interface AuditQuery {
  /** Inclusive lower / exclusive upper bounds on recorded, epoch ms. */
  from?: number;
  to?: number;
  clientId?: string;
  organization?: string;
  entity?: string;
  patient?: string;
  type?: string;
  subtype?: string;
  outcome?: string;
  action?: string;
  id?: string;
  count: number;
  offset: number;
  /** Newest first (_sort=-date, the default) or oldest first (_sort=date). */
  newestFirst: boolean;
}

export interface AuditPage {
  records: { id: string; content: string }[];
  total: number;
}

/** The audit store: insert-only. */
export interface AuditStore {
  /** Durable once resolved: one INSERT for all the records. */
  insert(records: readonly AuditRecord[]): Promise<void>;
  read(id: string): Promise<string | undefined>;
  search(query: AuditQuery): Promise<AuditPage>;
}

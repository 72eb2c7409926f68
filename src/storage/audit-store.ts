// SQL for the audit trail (migrations/0006_audit_events.sql). Rows are inserted, never changed: the
// table's trigger refuses UPDATE, DELETE and TRUNCATE.
import type { AuditPage, AuditQuery, AuditRecord, AuditStore } from '../audit/types.js';
import type { Queryable } from './database.js';

const COLUMNS = 'id, recorded, type_code, subtype, action, outcome, client_id, organization, entity_refs, patient_refs, content';
const PER_ROW = 11;

function rowParams(r: AuditRecord): unknown[] {
  return [r.id, r.recorded, r.type, r.subtype, r.action, r.outcome, r.clientId ?? null, r.organization ?? null, r.entities, r.patients, JSON.stringify(r.resource)];
}

/**
 * One INSERT for all the records, on the given connection or transaction: a write's AuditEvent is
 * inserted through its own transaction (WriteTx.appendAuditEvents) so both commit or neither does.
 */
export async function insertAuditRecords(q: Queryable, records: readonly AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  const values = records.map((_, i) => {
    const b = i * PER_ROW;
    return `($${b + 1}, $${b + 2}::timestamptz, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}::text[], $${b + 10}::text[], $${b + 11})`;
  });
  // A single-row insert (the common case when idle) has a fixed text: prepared once per connection.
  await q.query(`INSERT INTO audit_event (${COLUMNS}) VALUES ${values.join(', ')}`, records.flatMap(rowParams), records.length === 1 ? { prepare: true } : {});
}

export class SqlAuditStore implements AuditStore {
  constructor(private readonly db: Queryable) {}

  insert(records: readonly AuditRecord[]): Promise<void> {
    return insertAuditRecords(this.db, records);
  }

  async read(id: string): Promise<string | undefined> {
    const res = await this.db.query<{ content: string }>('SELECT content FROM audit_event WHERE id = $1', [id], { prepare: true });
    return res.rows[0]?.content;
  }

  async search(query: AuditQuery): Promise<AuditPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (query.from !== undefined && Number.isFinite(query.from)) add((p) => `recorded >= ${p}::timestamptz`, new Date(query.from).toISOString());
    if (query.to !== undefined && Number.isFinite(query.to)) add((p) => `recorded < ${p}::timestamptz`, new Date(query.to).toISOString());
    if (query.clientId !== undefined) add((p) => `client_id = ${p}`, query.clientId);
    if (query.organization !== undefined) add((p) => `organization = ${p}`, query.organization);
    if (query.entity !== undefined) add((p) => `entity_refs @> ARRAY[${p}]::text[]`, query.entity);
    if (query.patient !== undefined) add((p) => `patient_refs @> ARRAY[${p}]::text[]`, query.patient);
    if (query.type !== undefined) add((p) => `type_code = ${p}`, query.type);
    if (query.subtype !== undefined) add((p) => `subtype = ${p}`, query.subtype);
    if (query.outcome !== undefined) add((p) => `outcome = ${p}`, query.outcome);
    if (query.action !== undefined) add((p) => `action = ${p}`, query.action);
    if (query.id !== undefined) add((p) => `id = ${p}`, query.id);
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const order = query.newestFirst ? 'recorded DESC, seq DESC' : 'recorded, seq';
    const total = await this.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM audit_event ${filter}`, params);
    const page =
      query.count === 0
        ? { rows: [] }
        : await this.db.query<{ id: string; content: string }>(
            `SELECT id, content FROM audit_event ${filter} ORDER BY ${order} LIMIT ${query.count} OFFSET ${query.offset}`,
            params,
          );
    return { records: page.rows, total: Number(total.rows[0]?.n ?? 0) };
  }
}

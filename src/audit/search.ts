// AuditEvent search parameters (R4 AuditEvent search plus agent-identifier) read into an AuditQuery.
// Unknown parameters are refused rather than ignored: an audit query silently widened by a typo
// would answer a different question than the one asked.
import { parseFhirDateTime } from '../fhir/datetime.js';
import { badRequest } from '../fhir/outcome.js';
import type { AuditQuery } from './types.js';

const DEFAULT_COUNT = 20;
const MAX_COUNT = 1000;

/** [system|]code -> code; a system other than the expected one matches nothing. */
function tokenValue(value: string): string {
  const bar = value.indexOf('|');
  return bar < 0 ? value : value.slice(bar + 1);
}

/** A reference search value: `Type/id`, or an absolute URL ending in it. */
function referenceValue(value: string, defaultType?: string): string {
  const m = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/\d+)?$/.exec(value);
  if (m) return m[1]!;
  if (defaultType && /^[A-Za-z0-9\-.]{1,64}$/.test(value)) return `${defaultType}/${value}`;
  throw badRequest(`'${value}' is not a reference (Type/id)`);
}

function applyDate(query: AuditQuery, value: string): void {
  const m = /^(eq|ge|gt|le|lt|sa|eb)?(.+)$/.exec(value)!;
  const prefix = m[1] ?? 'eq';
  const date = parseFhirDateTime(m[2]!);
  if (!date) throw badRequest(`date must be a FHIR date or instant, got '${m[2]!}'`);
  const raise = (from: number) => (query.from = Math.max(query.from ?? -Infinity, from));
  const lower = (to: number) => (query.to = Math.min(query.to ?? Infinity, to));
  switch (prefix) {
    case 'eq':
      raise(date.low);
      lower(date.high);
      break;
    case 'ge':
      raise(date.low);
      break;
    case 'gt':
    case 'sa':
      raise(date.high);
      break;
    case 'le':
      lower(date.high);
      break;
    case 'lt':
    case 'eb':
      lower(date.low);
      break;
  }
}

function count(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw badRequest(`_count must be a non-negative integer, got '${value}'`);
  return Math.min(Number(value), MAX_COUNT);
}

export function parseAuditQuery(params: URLSearchParams): AuditQuery {
  const query: AuditQuery = { count: DEFAULT_COUNT, offset: 0, newestFirst: true };
  for (const [name, value] of params) {
    if (value === '') continue;
    switch (name) {
      case 'date':
        applyDate(query, value);
        break;
      case 'agent':
        // A client's organization (Organization/x) or the client itself by its id.
        if (value.includes('/')) query.organization = referenceValue(value);
        else query.clientId = value;
        break;
      case 'agent-identifier':
        query.clientId = tokenValue(value);
        break;
      case 'entity':
        query.entity = referenceValue(value);
        break;
      case 'patient':
        query.patient = referenceValue(value, 'Patient');
        break;
      case 'type':
        query.type = tokenValue(value);
        break;
      case 'subtype':
        query.subtype = tokenValue(value);
        break;
      case 'outcome':
        query.outcome = tokenValue(value);
        break;
      case 'action':
        query.action = tokenValue(value);
        break;
      case '_id':
        query.id = value;
        break;
      case '_count':
        query.count = count(value);
        break;
      case '_offset':
        if (!/^\d{1,9}$/.test(value)) throw badRequest(`_offset must be a non-negative integer, got '${value}'`);
        query.offset = Number(value);
        break;
      case '_sort':
        if (value !== 'date' && value !== '-date') throw badRequest(`AuditEvent searches sort by date or -date only, got '${value}'`);
        query.newestFirst = value === '-date';
        break;
      case '_format':
        break;
      default:
        throw badRequest(`Unknown or unsupported AuditEvent search parameter '${name}' (supported: date, agent, agent-identifier, entity, patient, type, subtype, outcome, action, _id, _count, _offset, _sort)`);
    }
  }
  return query;
}

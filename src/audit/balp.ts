// Builds AuditEvents in the IHE Basic Audit Log Patterns (BALP) shape from what the HTTP layer knows
// of an interaction: who asked (client and its organization, the server as the other party), what
// (interaction, resource or query), when, and the outcome. Pure: no clock, no I/O.
import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from '@medplum/fhirtypes';
import { actionOf, type AuditedInteraction } from './interactions.js';
import type { AuditOutcome, AuditRecord } from './types.js';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
/** Identifier system of Concord's registered client ids (the SMART client_id). */
export const CLIENT_ID_SYSTEM = 'urn:concord:client-id';
/** Names the audit source and the server agent. */
export const SERVER_NAME = 'Concord';

const REST_TYPE: Coding = { system: EVENT_TYPE, code: 'rest', display: 'Restful Operation' };
const AUTHENTICATION_TYPE: Coding = { system: DCM, code: '110114', display: 'User Authentication' };
const LOGIN: Coding = { system: DCM, code: '110122', display: 'Login' };

/** Who made the request: a registered client (and the organization it acts for), or nobody known. */
export interface Requestor {
  clientId?: string;
  organization?: string;
  /** The caller's network address. */
  address?: string;
}

/** A resource the interaction touched: `Type/id`, with the version read or written when known. */
export interface TouchedResource {
  reference: string;
  versionId?: number;
}

/** Another organization's record a coordination-rule refusal named (the holder of a role or scope). */
export interface Disclosure {
  reference: string;
  /** What the refusal told the caller about it. */
  description: string;
}

export interface AuditFacts {
  recorded: Date;
  interaction: AuditedInteraction;
  /** The operation's name for interaction `operation` (e.g. `validate`). */
  operation?: string;
  /** HTTP status of the answer. */
  status: number;
  /** Short, data-free words on the outcome (e.g. the token refusal reason). */
  outcomeText?: string;
  requestor: Requestor;
  /** The resource type addressed, when there is one. */
  resourceType?: string;
  resources?: readonly TouchedResource[];
  /** The search or conditional query as sent (stored base64 in entity.query, never logged). */
  query?: string;
  /** Members concerned, as `Patient/id`. */
  patients?: readonly string[];
  disclosures?: readonly Disclosure[];
  /** Where the server answers (its FHIR base URL). */
  serverAddress?: string;
}

export function outcomeOfStatus(status: number): AuditOutcome {
  return status < 400 ? '0' : status < 500 ? '4' : '8';
}

function clientAgent(r: Requestor): AuditEventAgent {
  return {
    type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
    who: r.clientId ? { identifier: { system: CLIENT_ID_SYSTEM, value: r.clientId }, display: r.clientId } : { display: 'anonymous' },
    requestor: true,
    ...(r.address ? { network: { address: r.address, type: '2' as const } } : {}),
  };
}

/** The organization the client acts for: responsible for what its client asks. */
function organizationAgent(organization: string): AuditEventAgent {
  return {
    type: { coding: [{ system: PARTICIPATION, code: 'RESP', display: 'responsible party' }] },
    who: { reference: organization },
    requestor: true,
  };
}

function serverAgent(address: string | undefined): AuditEventAgent {
  return {
    type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
    who: { display: SERVER_NAME },
    requestor: false,
    ...(address ? { network: { address, type: '5' as const } } : {}),
  };
}

const entityType = (code: '1' | '2' | '3' | '4', display: string): Coding => ({ system: ENTITY_TYPE, code, display });
const objectRole = (code: string, display: string): Coding => ({ system: OBJECT_ROLE, code, display });

function resourceEntity(r: TouchedResource): AuditEventEntity {
  return {
    what: { reference: r.versionId === undefined ? r.reference : `${r.reference}/_history/${r.versionId}` },
    type: entityType('2', 'System Object'),
    role: objectRole('4', 'Domain Resource'),
  };
}

function queryEntity(query: string, resourceType: string | undefined): AuditEventEntity {
  return {
    type: entityType('2', 'System Object'),
    role: objectRole('24', 'Query'),
    ...(resourceType ? { description: resourceType } : {}),
    query: Buffer.from(query, 'utf8').toString('base64'),
  };
}

function patientEntity(reference: string): AuditEventEntity {
  return { what: { reference }, type: entityType('1', 'Person'), role: objectRole('1', 'Patient') };
}

function disclosureEntity(d: Disclosure): AuditEventEntity {
  const organization = d.reference.startsWith('Organization/');
  return {
    what: { reference: d.reference },
    type: organization ? entityType('3', 'Organization') : entityType('2', 'System Object'),
    // Disclosed to the requestor in the refusal: the data destination is the requestor, the entity the
    // other organization's record it was told about.
    role: objectRole('3', 'Report'),
    name: 'disclosed in a coordination-rule refusal',
    description: d.description,
  };
}

const unversioned = (reference: string): string => reference.replace(/\/_history\/.*$/, '');
/** The search columns are SQL text: a NUL (a hostile id in the URL) is kept visible, not allowed to fail the insert. */
const column = (value: string): string => value.replaceAll('\u0000', '\uFFFD');

export function buildAuditRecord(facts: AuditFacts): AuditRecord {
  const id = randomUUID();
  const recorded = facts.recorded.toISOString();
  const token = facts.interaction === 'token';
  const outcome = outcomeOfStatus(facts.status);
  const r = facts.requestor;
  const subtype: Coding[] = token
    ? [LOGIN]
    : [{ system: INTERACTION, code: facts.interaction }, ...(facts.operation ? [{ system: INTERACTION, code: facts.operation, display: `$${facts.operation}` }] : [])];
  const patients = [...new Set(facts.patients ?? [])];
  const entity: AuditEventEntity[] = [
    ...(facts.resources ?? []).map(resourceEntity),
    ...(facts.query !== undefined ? [queryEntity(facts.query, facts.resourceType)] : []),
    ...patients.map(patientEntity),
    ...(facts.disclosures ?? []).map(disclosureEntity),
  ];
  const resource: AuditEvent = {
    resourceType: 'AuditEvent',
    id,
    meta: { versionId: '1', lastUpdated: recorded },
    type: token ? AUTHENTICATION_TYPE : REST_TYPE,
    subtype,
    action: actionOf(facts.interaction),
    recorded,
    outcome,
    outcomeDesc: facts.outcomeText ? `HTTP ${facts.status}: ${facts.outcomeText}` : `HTTP ${facts.status}`,
    agent: [clientAgent(r), ...(r.organization ? [organizationAgent(r.organization)] : []), serverAgent(facts.serverAddress)],
    source: {
      site: SERVER_NAME,
      observer: { display: SERVER_NAME },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
    ...(entity.length > 0 ? { entity } : {}),
  };
  return {
    id,
    recorded,
    type: token ? AUTHENTICATION_TYPE.code! : 'rest',
    subtype: token ? LOGIN.code! : facts.interaction,
    action: actionOf(facts.interaction),
    outcome,
    ...(r.clientId ? { clientId: r.clientId } : {}),
    ...(r.organization ? { organization: r.organization } : {}),
    entities: [...new Set(entity.flatMap((e) => (e.what?.reference ? [column(unversioned(e.what.reference))] : [])))],
    patients: patients.map(column),
    resource,
  };
}

// Which topic events a committed batch of writes causes, computed from each written resource's state
// before and after the batch (pure FHIR logic: no storage). One event per written resource and topic;
// a handoff Bundle that ends one team's lead and starts another's is one event per changed team.
import type { CarePlan, CareTeam, CodeableConcept, Consent, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { membersOf } from '../coordination/members.js';
import { participantOrganization } from '../coordination/organizations.js';
import { isLeadParticipant } from '../coordination/care-team.js';
import { refKey } from '../coordination/refs.js';
import type { ProposedWrite } from '../coordination/index.js';
import { EXTENSION_URLS } from '../fhir/profiles/urls.js';
import type { TopicId } from './topics.js';

/** The values a topic's filters are matched against: param -> values (before and after the write). */
export type FilterValues = Record<string, string[]>;

export interface TopicEvent {
  topic: TopicId;
  /** `Type/id` of the focus resource; absent for coordination-refused. */
  focus?: { type: string; id: string };
  /** The member (Patient id) the event concerns, when there is one. */
  member?: string;
  values: FilterValues;
  /** coordination-refused: the OperationOutcome carried instead of a focus. */
  detail?: Resource;
}

export interface TriggerReader {
  read(resourceType: string, id: string): Promise<Resource | undefined>;
}

const TOPIC_OF_TYPE: Record<string, TopicId> = {
  CareTeam: 'lead-care-manager',
  CarePlan: 'care-plan',
  ServiceRequest: 'service-request',
  Consent: 'consent',
  EpisodeOfCare: 'enrolment',
};

/** Resource types whose writes can cause topic events (the hook skips every other write cheaply). */
export const TRIGGER_TYPES: ReadonlySet<string> = new Set(Object.keys(TOPIC_OF_TYPE));

export async function topicEvents(writes: readonly ProposedWrite[], reader: TriggerReader): Promise<TopicEvent[]> {
  const out: TopicEvent[] = [];
  for (const w of writes) {
    const topic = TOPIC_OF_TYPE[w.resourceType];
    if (!topic) continue;
    const before = w.previous;
    const after = w.operation === 'delete' ? undefined : w.resource;
    if (!changed(topic, before, after)) continue;
    const member = membersOf(after)[0] ?? membersOf(before)[0];
    out.push({
      topic,
      focus: { type: w.resourceType, id: w.id },
      ...(member ? { member } : {}),
      values: await filterValues(topic, [before, after].filter((r): r is Resource => r !== undefined), reader),
    });
  }
  return out;
}

/** Whether the write is an event of the topic (creates and deletes always are, except for leads). */
function changed(topic: TopicId, before: Resource | undefined, after: Resource | undefined): boolean {
  if (topic === 'lead-care-manager') return same(leadState(before as CareTeam | undefined), leadState(after as CareTeam | undefined)) === false;
  if (!before || !after) return true;
  switch (topic) {
    case 'care-plan':
      return !same(carePlanState(before as CarePlan), carePlanState(after as CarePlan));
    case 'service-request':
      return !same(serviceRequestState(before as ServiceRequest), serviceRequestState(after as ServiceRequest));
    default:
      return true; // consent, enrolment: every create, change or delete
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** What makes a team's lead: each lead participant (who, for whom, when) and the team's own status and period. */
function leadState(team: CareTeam | undefined): unknown {
  if (!team) return [];
  const leads = (team.participant ?? [])
    .filter(isLeadParticipant)
    .map((p) => ({ member: p.member?.reference, onBehalfOf: p.onBehalfOf?.reference, period: p.period }));
  if (leads.length === 0) return [];
  return { leads, status: team.status, period: team.period };
}

function carePlanState(p: CarePlan): unknown {
  return { status: p.status, period: p.period, activity: p.activity, split: (p.extension ?? []).filter((e) => e.url === EXTENSION_URLS.serviceSplit) };
}

function serviceRequestState(r: ServiceRequest): unknown {
  return { status: r.status, intent: r.intent, occurrenceDateTime: r.occurrenceDateTime, occurrencePeriod: r.occurrencePeriod, occurrenceTiming: r.occurrenceTiming };
}

function add(values: FilterValues, param: string, value: string | undefined): void {
  if (value === undefined || value === '') return;
  const list = (values[param] ??= []);
  if (!list.includes(value)) list.push(value);
}

function addTokens(values: FilterValues, param: string, concepts: readonly (CodeableConcept | undefined)[] | undefined): void {
  for (const cc of concepts ?? []) {
    for (const c of cc?.coding ?? []) {
      if (!c.code) continue;
      add(values, param, c.code);
      if (c.system) add(values, param, `${c.system}|${c.code}`);
    }
  }
}

async function filterValues(topic: TopicId, states: readonly Resource[], reader: TriggerReader): Promise<FilterValues> {
  const values: FilterValues = {};
  for (const r of states) {
    for (const m of membersOf(r)) add(values, 'patient', `Patient/${m}`);
    switch (r.resourceType) {
      case 'CareTeam':
        // The lead's organization, before or after the change.
        for (const p of (r.participant ?? []).filter(isLeadParticipant)) add(values, 'organization', await participantOrganization(reader, p));
        break;
      case 'CarePlan':
        addTokens(values, 'category', r.category);
        break;
      case 'ServiceRequest':
        addTokens(values, 'category', r.category);
        addTokens(values, 'code', [r.code]);
        add(values, 'requester-organization', await requesterOrganization(r, reader));
        break;
      case 'Consent':
        for (const actor of consentActors(r)) add(values, 'actor', actor);
        break;
      case 'EpisodeOfCare':
        addTokens(values, 'program', (r).type);
        add(values, 'organization', refKey((r).managingOrganization));
        break;
      default:
        break;
    }
  }
  return values;
}

async function requesterOrganization(r: ServiceRequest, reader: TriggerReader): Promise<string | undefined> {
  const ref = refKey(r.requester);
  if (!ref) return undefined;
  if (ref.startsWith('Organization/')) return ref;
  if (ref.startsWith('PractitionerRole/')) {
    const role = await reader.read('PractitionerRole', ref.slice('PractitionerRole/'.length));
    return role?.resourceType === 'PractitionerRole' ? refKey(role.organization) : undefined;
  }
  return undefined;
}

function consentActors(c: Consent): string[] {
  const out: string[] = [];
  const walk = (p: Consent['provision']): void => {
    for (const a of p?.actor ?? []) {
      const key = refKey(a.reference);
      if (key) out.push(key);
    }
    for (const nested of p?.provision ?? []) walk(nested);
  };
  walk(c.provision);
  return out;
}

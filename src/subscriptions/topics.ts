// The contract's subscription topics (docs/coordination.md "Subscription topics") and the Backport IG
// URLs Concord reads and writes. Topic canonicals are `{base}/SubscriptionTopic/<id>`.
import { CONCORD_BASE } from '../fhir/profiles/urls.js';

export const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport';
const bsd = (id: string): string => `${BACKPORT}/StructureDefinition/${id}`;

export const BackportUrls = {
  subscriptionProfile: bsd('backport-subscription'),
  statusProfile: bsd('backport-subscription-status-r4'),
  notificationProfile: bsd('backport-subscription-notification-r4'),
  filterCriteria: bsd('backport-filter-criteria'),
  payloadContent: bsd('backport-payload-content'),
  heartbeatPeriod: bsd('backport-heartbeat-period'),
  timeout: bsd('backport-timeout'),
  maxCount: bsd('backport-max-count'),
  topicCanonical: bsd('capabilitystatement-subscriptiontopic-canonical'),
  websocketBinding: `${BACKPORT}/OperationDefinition/backport-subscription-get-ws-binding-token`,
  statusOperation: `${BACKPORT}/OperationDefinition/backport-subscription-status`,
  eventsOperation: `${BACKPORT}/OperationDefinition/backport-subscription-events`,
} as const;

/** Concord's write-only extension on Subscription.channel carrying the webhook signing secret. */
export const SECRET_EXTENSION = `${CONCORD_BASE}/StructureDefinition/subscription-secret`;

export type TopicId = 'lead-care-manager' | 'care-plan' | 'service-request' | 'consent' | 'enrolment' | 'coordination-refused';

export interface TopicDefinition {
  id: TopicId;
  /** The focus resource type; coordination-refused has none (its notification carries an OperationOutcome). */
  focus?: string;
  filters: readonly string[];
  description: string;
}

export const TOPICS: readonly TopicDefinition[] = [
  { id: 'lead-care-manager', focus: 'CareTeam', filters: ['patient', 'organization'], description: "A member's lead care manager was added, ended, changed or removed" },
  { id: 'care-plan', focus: 'CarePlan', filters: ['patient', 'category'], description: 'A CarePlan was created, deleted, or changed status, period, activities or split' },
  { id: 'service-request', focus: 'ServiceRequest', filters: ['patient', 'requester-organization', 'category', 'code'], description: 'A ServiceRequest was created, deleted, or changed status, intent or occurrence' },
  { id: 'consent', focus: 'Consent', filters: ['patient', 'actor'], description: 'A Consent was created, changed or deleted' },
  { id: 'enrolment', focus: 'EpisodeOfCare', filters: ['patient', 'program', 'organization'], description: 'A program enrolment (EpisodeOfCare) was created, changed or deleted' },
  { id: 'coordination-refused', filters: ['patient', 'organization'], description: 'A write was refused by a coordination rule' },
];

export const TOPIC_BY_ID: ReadonlyMap<string, TopicDefinition> = new Map(TOPICS.map((t) => [t.id, t]));

export function topicCanonical(base: string, id: string): string {
  return `${base}/SubscriptionTopic/${id}`;
}

/** The topic id of a canonical, or undefined when it names no Concord topic. */
export function topicOfCanonical(criteria: string, bases: readonly string[]): TopicId | undefined {
  const m = /^(.*)\/SubscriptionTopic\/([a-z-]+)$/.exec(criteria);
  if (!m?.[2] || !TOPIC_BY_ID.has(m[2])) return undefined;
  // With BASE_URL configured only this server's canonicals count; otherwise any base names the topic.
  if (bases.length > 0 && !bases.includes(m[1]!)) return undefined;
  return m[2] as TopicId;
}

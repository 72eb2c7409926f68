// A Subscription resource read as delivery configuration: topic-based (Backport profile, criteria =
// topic canonical, filters in backport-filter-criteria) or classic R4 (criteria = a search URL). Bad
// configuration is refused with 422 before anything is stored. The webhook secret is write-only: it
// is taken from the submitted resource here and removed from the stored one (withoutSecret).
import type { Extension, OperationOutcomeIssue, Resource, Subscription } from '@medplum/fhirtypes';
import { isResourceType } from '../fhir/definitions.js';
import { FhirError, issue } from '../fhir/outcome.js';
import { BackportUrls, SECRET_EXTENSION, TOPIC_BY_ID, topicOfCanonical, type TopicId } from './topics.js';

export type PayloadContent = 'empty' | 'id-only' | 'full-resource';
export type ChannelType = 'rest-hook' | 'websocket';
export type SubscriptionState = 'requested' | 'active' | 'error' | 'off';

export interface TopicFilter {
  param: string;
  /** Any of these values matches (comma-separated in the criteria). */
  values: string[];
}

export interface SubscriptionConfig {
  id: string;
  status: SubscriptionState;
  topic?: TopicId;
  /** Classic: the searched type; topic-based: the topic's focus type ('' for coordination-refused). */
  criteriaType: string;
  /** Classic: the search query (without the type); topic-based: ''. */
  criteria: string;
  filters: TopicFilter[];
  channelType: ChannelType;
  endpoint?: string;
  payload: PayloadContent;
  headers: string[];
  /** Only when the write carries one; an update without it keeps the stored secret. */
  secret?: string;
  heartbeatSeconds?: number;
  timeoutSeconds?: number;
  maxCount: number;
}

export const MAX_BATCH = 100;
const MIN_SECRET_BYTES = 24;
/** Headers Concord sets itself on a delivery; a subscriber may not replace them. */
const RESERVED_HEADERS = new Set(['host', 'content-type', 'content-length', 'connection', 'transfer-encoding', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);

function ext(list: Extension[] | undefined, url: string): Extension | undefined {
  return list?.find((e) => e.url === url);
}

type SubscriptionJson = Subscription & {
  _criteria?: { extension?: Extension[] };
  channel: Subscription['channel'] & { _payload?: { extension?: Extension[] } };
};

/** The Subscription as stored: without the write-only secret extension. */
export function withoutSecret(resource: Resource): Resource {
  if (resource.resourceType !== 'Subscription') return resource;
  const channel = resource.channel;
  if (!channel?.extension?.some((e) => e.url === SECRET_EXTENSION)) return resource;
  const extension = channel.extension.filter((e) => e.url !== SECRET_EXTENSION);
  const { extension: _dropped, ...rest } = channel;
  return { ...resource, channel: extension.length > 0 ? { ...rest, extension } : rest };
}

/** Reads and validates a submitted Subscription; throws a 422 FhirError listing every problem. */
export function parseSubscription(resource: Subscription, id: string, bases: readonly string[], previousStatus?: string): SubscriptionConfig {
  const sub = resource as SubscriptionJson;
  const problems: OperationOutcomeIssue[] = [];
  const bad = (text: string, expression: string): void => void problems.push(issue('invalid', text, { expression: [expression] }));

  // Clients ask for requested (or off); active is the server's to set after the handshake. A client may
  // write error (inert: nothing is delivered until it asks for requested again).
  const status = sub.status;
  if (status === 'active' && previousStatus !== 'active') {
    bad(`Subscription.status 'active' is set by the server after the handshake: write 'requested'`, 'Subscription.status');
  }

  const criteria = sub.criteria ?? '';
  const topic = topicOfCanonical(criteria, bases);
  const isTopicBased = (sub.meta?.profile ?? []).includes(BackportUrls.subscriptionProfile) || /\/SubscriptionTopic\//.test(criteria);
  let criteriaType = '';
  let query = '';
  const filters: TopicFilter[] = [];
  if (isTopicBased) {
    if (!topic) {
      bad(`Subscription.criteria '${criteria}' is not a Concord topic canonical ({base}/SubscriptionTopic/<id>)`, 'Subscription.criteria');
    } else {
      const def = TOPIC_BY_ID.get(topic)!;
      criteriaType = def.focus ?? '';
      for (const e of sub._criteria?.extension ?? []) {
        if (e.url !== BackportUrls.filterCriteria) continue;
        const parsed = parseFilter(e.valueString ?? '', def.focus, def.filters);
        if (typeof parsed === 'string') bad(parsed, 'Subscription.criteria.extension');
        else filters.push(...parsed);
      }
    }
  } else {
    const m = /^([A-Z][A-Za-z]+)(?:\?(.*))?$/.exec(criteria);
    if (!m || !isResourceType(m[1]!)) bad(`Subscription.criteria must be a topic canonical or a search URL such as 'CareTeam?patient=Patient/123'`, 'Subscription.criteria');
    else {
      criteriaType = m[1]!;
      query = m[2] ?? '';
    }
  }

  const channel = sub.channel;
  const channelType = channel?.type;
  // websocket: no endpoint; clients bind with a token from $get-ws-binding-token.
  if (channelType !== 'rest-hook' && channelType !== 'websocket') {
    bad(`Subscription.channel.type '${String(channelType)}' is not supported (rest-hook, websocket)`, 'Subscription.channel.type');
  }
  let endpoint: string | undefined;
  if (channelType === 'rest-hook') {
    endpoint = channel.endpoint;
    if (!endpoint) bad('A rest-hook Subscription needs channel.endpoint', 'Subscription.channel.endpoint');
    else if (!URL.canParse(endpoint)) bad('Subscription.channel.endpoint is not a URL', 'Subscription.channel.endpoint');
  }
  if (channel?.payload !== undefined && !/^application\/(fhir\+)?json\b/.test(channel.payload)) {
    bad(`Subscription.channel.payload '${channel.payload}' is not supported (application/fhir+json)`, 'Subscription.channel.payload');
  }
  const content = ext(channel?._payload?.extension, BackportUrls.payloadContent)?.valueCode ?? 'id-only';
  if (content !== 'empty' && content !== 'id-only' && content !== 'full-resource') {
    bad(`payload content '${content}' is not one of empty, id-only, full-resource`, 'Subscription.channel.payload.extension');
  }
  const headers = channel?.header ?? [];
  for (const h of headers) {
    const name = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(h)?.[1]?.toLowerCase();
    if (!name || /[\r\n]/.test(h)) bad(`channel.header '${h.split(':')[0] ?? ''}' is not 'Name: value'`, 'Subscription.channel.header');
    else if (RESERVED_HEADERS.has(name)) bad(`channel.header may not set '${name}'`, 'Subscription.channel.header');
  }
  const secretExt = ext(channel?.extension, SECRET_EXTENSION);
  const secret = secretExt?.valueString;
  if (secretExt && (secret === undefined || secretBytes(secret) < MIN_SECRET_BYTES)) {
    bad(`the subscription secret must be 'whsec_' + base64 of at least ${MIN_SECRET_BYTES} bytes, or a string of at least ${MIN_SECRET_BYTES} characters`, 'Subscription.channel.extension');
  }
  const heartbeat = ext(channel?.extension, BackportUrls.heartbeatPeriod)?.valueUnsignedInt;
  const timeout = ext(channel?.extension, BackportUrls.timeout)?.valueUnsignedInt;
  const maxCount = ext(channel?.extension, BackportUrls.maxCount)?.valuePositiveInt ?? 1;
  if (heartbeat !== undefined && heartbeat < 1) bad('backport-heartbeat-period must be at least 1 second', 'Subscription.channel.extension');
  if (timeout !== undefined && (timeout < 1 || timeout > 120)) bad('backport-timeout must be between 1 and 120 seconds', 'Subscription.channel.extension');
  if (maxCount > MAX_BATCH) bad(`backport-max-count may be at most ${MAX_BATCH}`, 'Subscription.channel.extension');

  if (problems.length > 0) throw new FhirError(422, problems);
  return {
    id,
    status,
    ...(topic ? { topic } : {}),
    criteriaType,
    criteria: query,
    filters,
    channelType: channelType as ChannelType,
    ...(endpoint ? { endpoint } : {}),
    payload: content as PayloadContent,
    headers,
    ...(secret !== undefined ? { secret } : {}),
    ...(heartbeat !== undefined ? { heartbeatSeconds: heartbeat } : {}),
    ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}),
    maxCount,
  };
}

/** The key bytes of a secret: Standard Webhooks `whsec_<base64>`, else the UTF-8 text itself. */
export function secretKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

function secretBytes(secret: string): number {
  return secretKey(secret).length;
}

/** `Type?param=value[,value]&...` -> filters; a string is the problem. */
function parseFilter(text: string, focus: string | undefined, allowed: readonly string[]): TopicFilter[] | string {
  const m = /^([A-Za-z]+)\?(.+)$/.exec(text);
  if (!m) return `backport-filter-criteria '${text}' is not 'Type?param=value'`;
  if (focus !== undefined && m[1] !== focus) return `backport-filter-criteria '${text}': this topic's focus is ${focus}`;
  const out: TopicFilter[] = [];
  for (const [param, value] of new URLSearchParams(m[2])) {
    if (!allowed.includes(param)) return `backport-filter-criteria '${text}': '${param}' is not a filter of this topic (${allowed.join(', ')})`;
    const values = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (values.length === 0) return `backport-filter-criteria '${text}': '${param}' has no value`;
    out.push({ param, values });
  }
  return out;
}

/** Whether an event with these filter values passes every filter (each filter: any of its values). */
export function filtersMatch(filters: readonly TopicFilter[], values: Record<string, string[]>): boolean {
  return filters.every((f) => {
    const have = values[f.param] ?? [];
    return f.values.some((v) => have.includes(normalise(f.param, v)) || have.includes(v));
  });
}

/** `patient=123` means `Patient/123`, as in search. */
function normalise(param: string, value: string): string {
  if (param === 'patient' && !value.includes('/')) return `Patient/${value}`;
  if ((param === 'organization' || param === 'requester-organization') && !value.includes('/')) return `Organization/${value}`;
  return value;
}

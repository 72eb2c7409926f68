// The write hook of the subscription subsystem. Inside every write transaction, after the checks
// passed, it (1) registers written Subscriptions (validated, endpoint checked, secret kept apart) and
// (2) turns the batch's writes into notifications for every matching Subscription, stored in the same
// transaction: a commit always has its notifications and a rollback none. A write refused by a
// coordination rule records its coordination-refused notifications afterwards, in a transaction of its
// own, carrying only the rule and the existing holder (never the refused resource).
import type { OperationOutcome, Resource, Subscription } from '@medplum/fhirtypes';
import { membersOf } from '../coordination/members.js';
import { participantOrganization } from '../coordination/organizations.js';
import type { ProposedWrite } from '../coordination/index.js';
import { refKey } from '../coordination/refs.js';
import { FhirError, issue } from '../fhir/outcome.js';
import type { WriteTx } from '../fhir/repository.js';
import type { WriteHook, WriteSession } from '../fhir/resource-service.js';
import { readThrough, type RuleViolationError } from '../fhir/write-pipeline.js';
import { CODE_SYSTEM_URLS } from '../fhir/profiles/urls.js';
import { filtersMatch, parseSubscription } from './subscription-config.js';
import type { Candidate, NotificationInput, SubscriptionEventStore } from './store.js';
import { subscriptionIdsOf } from './store.js';
import { pickCandidates, type CandidateCache } from './candidate-cache.js';
import { TRIGGER_TYPES, topicEvents, type TopicEvent } from './triggers.js';

/** Refuses an endpoint the guard would refuse (https only unless allow-listed, public addresses). */
export type EndpointCheck = (url: URL) => Promise<void>;

export interface EventRecorderOptions {
  store: SubscriptionEventStore;
  checkEndpoint: EndpointCheck;
  /** This server's base URLs (topic canonicals). */
  bases: readonly string[];
  /** Reads a current resource outside any transaction (the holders of a refusal). */
  read(resourceType: string, id: string): Promise<Resource | undefined>;
  /** The registered Subscriptions held by this instance; without it every write queries them. */
  cache?: CandidateCache;
  /** Told after a commit that stored notifications, with the Subscriptions they name (undefined: any). */
  onNotified?: (subscriptionIds?: readonly string[]) => void;
  /** Told when a coordination-refused event could not be recorded (the refusal itself still stands). */
  onError?: (err: unknown) => void;
}

export class EventRecorder implements WriteHook {
  /** Sessions whose transaction stored notifications, with their Subscriptions (weak: a rolled-back session just disappears). */
  private readonly notified = new WeakMap<WriteSession, string[]>();

  constructor(private readonly options: EventRecorderOptions) {}

  async beforeCommit(session: WriteSession): Promise<void> {
    const { tx } = session;
    for (const w of session.writes) {
      if (w.resourceType === 'Subscription') await this.registerSubscription(session, w);
    }
    const events = session.writes.some((w) => TRIGGER_TYPES.has(w.resourceType)) ? await topicEvents(session.writes, readerOf(session)) : [];
    const classicTypes = [...new Set(session.writes.filter((w) => w.operation !== 'delete' && w.resourceType !== 'Subscription').map((w) => w.resourceType))];
    const topics = [...new Set(events.map((e) => e.topic))];
    const candidates = await this.candidatesOf(session, topics, classicTypes);
    if (candidates.length === 0) return;
    const out: NotificationInput[] = [];
    const versions = new Map<string, number | undefined>();
    const versionOf = async (type: string, id: string): Promise<number | undefined> => {
      const key = `${type}/${id}`;
      // The version this transaction wrote last is the one a read in it would find: a write's own focus
      // costs no query (one round trip and a resource row per write, measured in bench/RESULTS.md).
      if (!versions.has(key)) versions.set(key, writtenVersion(session, type, id) ?? (await tx.read(type, id))?.versionId);
      return versions.get(key);
    };
    for (const c of candidates) {
      if (c.topic) {
        for (const e of events) {
          if (e.topic !== c.topic || !filtersMatch(c.filters, e.values) || !e.focus) continue;
          out.push({ subscriptionId: c.id, topic: e.topic, focusType: e.focus.type, focusId: e.focus.id, focusVersion: await versionOf(e.focus.type, e.focus.id), ...(e.member ? { member: e.member } : {}) });
        }
      } else {
        for (const w of session.writes) {
          if (w.operation === 'delete' || w.resourceType !== c.criteriaType) continue;
          if (!(await matchesClassic(tx, c, w.id))) continue;
          const member = membersOf(w.resource)[0];
          out.push({ subscriptionId: c.id, focusType: w.resourceType, focusId: w.id, focusVersion: await versionOf(w.resourceType, w.id), ...(member ? { member } : {}) });
        }
      }
    }
    if (out.length === 0) return;
    await this.options.store.append(tx, out);
    this.notified.set(session, subscriptionIdsOf(out));
  }

  private async candidatesOf(session: WriteSession, topics: string[], classicTypes: string[]): Promise<Candidate[]> {
    if (topics.length === 0 && classicTypes.length === 0) return [];
    // A Subscription registered by this very transaction is visible only to the transaction's own query.
    const own = session.writes.some((w) => w.resourceType === 'Subscription');
    const held = this.options.cache && !own ? await this.options.cache.current(session.tx) : undefined;
    return held ? pickCandidates(held, topics, classicTypes) : this.options.store.candidates(session.tx, topics, classicTypes);
  }

  committed(session: WriteSession): void {
    const ids = this.notified.get(session);
    if (ids) this.options.onNotified?.(ids);
  }

  async refused(writes: readonly ProposedWrite[], error: RuleViolationError): Promise<void> {
    try {
      await this.recordRefusal(writes, error);
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  private async recordRefusal(writes: readonly ProposedWrite[], error: RuleViolationError): Promise<void> {
    const own = new Set(writes.map((w) => `${w.resourceType}/${w.id}`));
    const member = writes.flatMap((w) => [...membersOf(w.resource), ...membersOf(w.previous)])[0];
    const events: TopicEvent[] = [];
    for (const checked of error.checked) {
      const rule = checked.issue.details?.coding?.find((c) => c.system === CODE_SYSTEM_URLS.rule)?.code;
      if (!rule) continue;
      const holders = (checked.involves ?? []).filter((ref) => !own.has(ref));
      const organizations = new Set<string>();
      for (const ref of holders) for (const org of await this.holderOrganizations(ref)) organizations.add(org);
      const detail: OperationOutcome = {
        resourceType: 'OperationOutcome',
        issue: [
          issue(checked.issue.code, `Refused by coordination rule ${rule}${holders.length > 0 ? `; existing holder: ${holders.join(', ')}` : ''}`, {
            details: { coding: [{ system: CODE_SYSTEM_URLS.rule, code: rule }] },
            ...(holders.length > 0 ? { expression: holders } : {}),
          }),
        ],
      };
      events.push({
        topic: 'coordination-refused',
        ...(member ? { member } : {}),
        values: { ...(member ? { patient: [`Patient/${member}`] } : {}), organization: [...organizations] },
        detail,
      });
    }
    if (events.length === 0) return;
    await this.options.store.appendAlone(
      (candidates) =>
        candidates.flatMap((c) =>
          events
            .filter((e) => filtersMatch(c.filters, e.values))
            .map((e) => ({ subscriptionId: c.id, topic: e.topic, ...(e.member ? { member: e.member } : {}), detail: JSON.stringify(e.detail) })),
        ),
      ['coordination-refused'],
    );
    this.options.onNotified?.();
  }

  private async holderOrganizations(ref: string): Promise<string[]> {
    const [type, id] = ref.split('/');
    if (!type || !id) return [];
    const r = await this.options.read(type, id);
    if (!r) return [];
    switch (r.resourceType) {
      case 'CareTeam': {
        const orgs: string[] = [];
        for (const p of r.participant ?? []) {
          const org = await participantOrganization({ read: (type, id) => this.options.read(type, id) }, p);
          if (org) orgs.push(org);
        }
        return orgs;
      }
      case 'ServiceRequest':
        return [refKey(r.requester)].filter((o): o is string => o?.startsWith('Organization/') === true);
      case 'EpisodeOfCare':
        return [refKey(r.managingOrganization)].filter((o): o is string => o !== undefined);
      default:
        return [];
    }
  }

  private async registerSubscription(session: WriteSession, w: ProposedWrite): Promise<void> {
    const { store } = this.options;
    if (w.operation === 'delete' || !w.resource) return store.unregister(session.tx, w.id);
    const previousStatus = (w.previous as Subscription | undefined)?.status;
    if (session.asServer) {
      // The dispatcher recording active / error: only the status changes.
      return store.setStatus(session.tx, w.id, (w.resource as Subscription).status);
    }
    const config = parseSubscription(w.resource as Subscription, w.id, this.options.bases, previousStatus);
    if (config.endpoint) {
      try {
        await this.options.checkEndpoint(new URL(config.endpoint));
      } catch (err) {
        throw new FhirError(422, issue('invalid', `Subscription.channel.endpoint is refused: ${err instanceof Error ? err.message : 'not allowed'}`, { expression: ['Subscription.channel.endpoint'] }));
      }
    }
    if (config.topic === undefined) await assertSearchable(session.tx, config.criteriaType, config.criteria);
    const organization = w.operation === 'create' ? session.actor?.organization : undefined;
    await store.register(session.tx, config, organization, config.status === 'requested');
  }
}

/**
 * Reads in the write's transaction, after its last write: what the final checks already read (a lead's
 * PractitionerRole, a requester's) is taken from them, and each other resource is read once, not once
 * per state (before and after) or per Subscription.
 */
function readerOf(session: WriteSession): { read(type: string, id: string): Promise<Resource | undefined> } {
  return {
    read: (type, id) => readThrough(session.tx, session.reads, type, id),
  };
}

function classicQuery(c: { criteria: string }, id: string): URLSearchParams {
  const q = new URLSearchParams(c.criteria);
  q.append('_id', id);
  return q;
}

/** The written version matches the classic criteria: the search engine run for just this id. */
async function matchesClassic(tx: WriteTx, c: Candidate, id: string): Promise<boolean> {
  return (await tx.findMatches(c.criteriaType, classicQuery(c, id))).length > 0;
}

/** A classic criteria the search engine cannot run is refused at save, not at the first write. */
async function assertSearchable(tx: WriteTx, type: string, criteria: string): Promise<void> {
  try {
    await tx.findMatches(type, classicQuery({ criteria }, 'x'));
  } catch (err) {
    const detail = err instanceof FhirError ? (err.outcome.issue[0]?.diagnostics ?? 'not a supported search') : 'not a supported search';
    throw new FhirError(422, issue('invalid', `Subscription.criteria cannot be searched: ${detail}`, { expression: ['Subscription.criteria'] }));
  }
}

/** The version of `type/id` this session wrote last (undefined: it wrote none). */
function writtenVersion(session: WriteSession, type: string, id: string): number | undefined {
  for (let i = session.written.length - 1; i >= 0; i--) {
    const { version } = session.written[i]!;
    if (version.resourceType === type && version.id === id) return version.versionId;
  }
  return undefined;
}

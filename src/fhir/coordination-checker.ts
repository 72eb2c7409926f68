// Connects the coordination rules (src/coordination, pure) to the write path. Every write that touches
// a member takes a transaction-scoped lock per member (sorted, so two writers never deadlock on the same
// pair), then the rules read that member's record inside the same transaction. Concurrent writers for
// one member therefore run one after the other and the second sees the first's committed state: the
// overlap rules hold under any race.
import type { Resource } from '@medplum/fhirtypes';
import { addToRecord, checkWritesDetailed, emptyRecord, lockOrder, type CoordinationReader, type MemberRecord, type MemberRecordPart } from '../coordination/index.js';
import { MEMBER_RESOURCE_TYPES, rulesReferences } from '../coordination/reader.js';
import type { FactQuery } from '../coordination/facts.js';
import type { WriteTx } from './repository.js';
import { readThrough, type Arrival, type CheckedIssue, type ProposedWrite, type TransactionalChecker, type TransactionReads } from './write-pipeline.js';

/** Where each member-owned type points at the member. */
const MEMBER_LINKS: Record<MemberRecordPart, { resourceType: string; code: string }> = {
  careTeams: { resourceType: 'CareTeam', code: 'subject' },
  carePlans: { resourceType: 'CarePlan', code: 'subject' },
  serviceRequests: { resourceType: 'ServiceRequest', code: 'subject' },
  consents: { resourceType: 'Consent', code: 'patient' },
  episodes: { resourceType: 'EpisodeOfCare', code: 'patient' },
};
const ALL_PARTS = Object.keys(MEMBER_LINKS) as MemberRecordPart[];

/**
 * The reader the rules use inside the write transaction. Reads of referenced resources are kept for the
 * one check (the rules and the 409/422 decision read the same ones), and prefetch asks for those the
 * writes refer to, and those these refer to, all at once: inside the transaction they then share round
 * trips with the member record's reads instead of costing one each.
 */
function readerFor(tx: WriteTx, reads: TransactionReads): CoordinationReader & { prefetch(writes: readonly ProposedWrite[]): void } {
  const read = (resourceType: string, id: string): Promise<Resource | undefined> => readThrough(tx, reads, resourceType, id);
  /** Starts reading what r refers to among the types the rules read, down to depth more levels. */
  const warm = (r: Resource | undefined, depth: number): void => {
    if (!r || depth <= 0) return;
    for (const [key, ref] of rulesReferences(r)) {
      const started = reads.has(key);
      const p = read(ref.type, ref.id);
      // A failed read fails the transaction's next statement anyway; only a rule that asks sees the error.
      // A read this chain issues once the check (and the transaction's function) is over is refused
      // unsent by the transaction (nobody needs it then).
      p.catch(() => undefined);
      if (!started) void p.then((next) => warm(next, depth - 1), () => undefined);
    }
  };
  return {
    async memberRecord(patientId: string, parts: readonly MemberRecordPart[] = ALL_PARTS): Promise<MemberRecord> {
      const record = emptyRecord();
      // Only the parts the triggered rules read: a CareTeam write never loads the member's orders.
      for (const json of await tx.findReferencing('Patient', patientId, parts.map((p) => MEMBER_LINKS[p]))) {
        addToRecord(record, JSON.parse(json) as Resource);
      }
      return record;
    },
    async withFacts(patientId: string, queries: readonly FactQuery[]): Promise<Resource[]> {
      return (await tx.findByFacts(patientId, queries)).map((json) => JSON.parse(json) as Resource);
    },
    read,
    prefetch(writes) {
      // Two levels: a participant's PractitionerRole, then its Organization (organizations.ts).
      for (const w of writes) if (w.resource && (MEMBER_RESOURCE_TYPES as readonly string[]).includes(w.resourceType)) warm(w.resource, 2);
    },
  };
}

export class CoordinationChecker implements TransactionalChecker {
  async lock(tx: WriteTx, writes: ProposedWrite[]): Promise<void> {
    for (const member of lockOrder(writes)) await tx.lockKey(`member:${member}`);
  }

  async check(tx: WriteTx, writes: ProposedWrite[], arrival?: Arrival, reads: TransactionReads = new Map()): Promise<CheckedIssue[]> {
    const reader = readerFor(tx, reads);
    reader.prefetch(writes);
    const findings = await checkWritesDetailed(writes, reader);
    const own = new Set(writes.map((w) => `${w.resourceType}/${w.id}`));
    const out: CheckedIssue[] = [];
    for (const f of findings) {
      // A rejection caused by a resource another client committed while this request was in flight is a
      // lost race (409 conflict); one caused by state that was already there is a rule break (422).
      const raced = arrival !== undefined && (await this.committedSince(reader, f.involves, writes, arrival));
      const resource = f.involves.find((ref) => own.has(ref));
      out.push({ issue: raced ? { ...f.issue, code: 'conflict' } : f.issue, ...(resource ? { resource } : {}), involves: f.involves });
    }
    return out;
  }

  private async committedSince(reader: CoordinationReader, involves: readonly string[], writes: ProposedWrite[], arrival: Arrival): Promise<boolean> {
    const own = new Set(writes.map((w) => `${w.resourceType}/${w.id}`));
    for (const ref of involves) {
      if (own.has(ref)) continue;
      const [type, id] = ref.split('/');
      if (!type || !id) continue;
      const r = await reader.read(type, id);
      const lastUpdated = r?.meta?.lastUpdated;
      if (!lastUpdated) continue;
      // This process's own commit instant when it wrote that version; else (another instance wrote
      // it) lastUpdated, which precedes that commit and so can only under-report a race.
      if (arrival.committedSince(ref, lastUpdated) ?? Date.parse(lastUpdated) >= arrival.at) return true;
    }
    return false;
  }
}

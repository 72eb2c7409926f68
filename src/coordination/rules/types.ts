// The common shape of a coordination rule. A rule looks at one member's whole record (after the
// proposed writes are overlaid) and reports the violations it sees; the engine keeps only those the
// writes introduce (see engine.ts). Rules may use `written` to skip work that cannot produce a new
// violation (the pairwise rules skip pairs of untouched resources) or, like cp-opt-out and
// request-matches-split, to judge only what is being written.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { RuleId } from '../codes.js';
import type { Fact, FactQuery } from '../facts.js';
import type { MemberRecord, MemberRecordPart, MemberResourceType } from '../reader.js';

export interface RuleContext {
  readonly patientId: string;
  /** The member's record as it would be after the writes (or before them, when the engine compares). */
  readonly record: MemberRecord;
  /** `Type/id` of every resource the batch creates, updates or deletes. */
  readonly written: ReadonlySet<string>;
  /** Reads through the batch's overlay, cached for the batch. */
  read(resourceType: string, id: string): Promise<Resource | undefined>;
}

/** A place a violation can be reported: an element of one resource, and what it collides with. */
export interface Site {
  /** `Type/id` of the resource holding the offending element. */
  readonly ref: string;
  /** FHIRPath of the offending element, from the resource type (e.g. `CareTeam.participant[1].role`). */
  readonly expression: string;
  /** Names the resource already holding the role, scope or service, or what is missing. */
  readonly diagnostics: string;
}

export interface Violation {
  /**
   * Identity of the violation, independent of which side reports it and of list order, so the engine
   * can tell a violation the write introduces from one that was already there.
   */
  readonly key: string;
  /** What is wrong, in a care manager's words. */
  readonly text: string;
  readonly code?: OperationOutcomeIssue['code'];
  /** Candidate report sites, preferred first; the engine reports at the first one the batch writes. */
  readonly sites: readonly Site[];
}

export interface Rule {
  readonly id: RuleId;
  /** One line: what the rule checks. */
  readonly summary: string;
  /** The public guidance (document title and section) and the sentence the rule implements. */
  readonly source: string;
  /** Resource types whose create/update/delete can break the rule: the engine runs it only for those. */
  readonly appliesTo: readonly MemberResourceType[];
  /**
   * The parts of the member's record the rule (and the helpers it calls) read. The engine loads only
   * the parts the triggered rules declare, and reading an undeclared part throws, so a missing
   * declaration fails the rule's tests instead of silently judging an empty list. Keyed by resource
   * type when what the rule reads depends on what is written.
   */
  readonly reads: readonly MemberRecordPart[] | { readonly [T in MemberResourceType]?: readonly MemberRecordPart[] };
  /**
   * Which of the member's stored resources the rule needs, per part it reads, given what the batch
   * writes: 'all', or only those with a coordination fact matching one of the queries (see facts.ts).
   * A part the rule reads but leaves out here (or a rule without select) is loaded whole. The contract
   * is exactness: on the selected resources plus the written ones, the rule must find exactly the
   * violations involving or depending on a written resource that it finds on the whole record (an
   * equivalence test checks this on generated records). This is what keeps a write's cost independent
   * of how much history the member has.
   */
  select?(batch: Batch): { readonly [P in MemberRecordPart]?: Selection };
  /**
   * The rule judges resources it loaded through select on yet other stored ones (e.g. a pulled lead's
   * joint designation depends on every team during that lead): select runs once more over them.
   */
  readonly selectTransitive?: boolean;
  check(ctx: RuleContext): Promise<Violation[]>;
}

/** What a rule's select sees of a batch, for one member. */
export interface Batch {
  /** Resource types the batch writes (any member). */
  readonly types: ReadonlySet<string>;
  /** The new and previous states of the batch's resources of this member (or, in the transitive round, the resources the first round selected). */
  readonly states: readonly Resource[];
  /** coordinationFacts of those states. */
  readonly facts: readonly Fact[];
}

export type Selection = 'all' | readonly FactQuery[];

/** Queries for stored facts of `kind` (and key) overlapping each given fact. */
export function overlapping(facts: readonly Fact[], kind: FactQuery['kind'], key?: string): FactQuery[] {
  return facts.map((f) => ({ kind, key: key ?? f.key, range: f.range }));
}

/** The batch's facts of one kind (and key). */
export function factsOf(batch: Batch, kind: Fact['kind'], key?: string): Fact[] {
  return batch.facts.filter((f) => f.kind === kind && (key === undefined || f.key === key));
}

/** A symmetric key for a violation between two elements (order-independent). */
export function pairKey(rule: RuleId, a: string, b: string, extra = ''): string {
  return [rule, ...[a, b].sort(), extra].join('|');
}

// The coordination engine the storage layer calls inside the transaction of every write (and
// $validate calls without writing).
//
// Protocol for the storage layer:
//  1. collect the batch's ProposedWrites (one per entry of a transaction Bundle), with urn:uuid
//     references already resolved to `Type/id`, and `previous` = the current stored version for
//     updates and deletes;
//  2. lock every id of lockOrder(writes) (per-member advisory locks, in that order, so two
//     transactions never deadlock), which serialises all writes that can conflict on a member;
//  3. call checkWrites with a reader bound to the same transaction; any issue => 422, nothing stored.
//     The engine asks the reader only for what the triggered rules select (Rule.select: whole record
//     parts, or the stored resources whose coordination facts can interact with the written ones).
//
// How a violation is judged: the batch is overlaid on each touched member's record (replacing
// same-id resources, dropping deleted ones, so a handoff transaction is judged on its end state), every
// rule triggered by the batch's resource types runs on that state, and a violation is reported only if
// it is new, i.e. absent from the state before the batch (the same record with each written resource
// replaced by its `previous`). Pre-existing violations (legacy data, or made by an Organization or
// Practitioner edit, which no member lock covers) therefore never block an unrelated write, while any
// write that adds a violation, including a delete or an enrolment change, is rejected.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { CodeSystems } from './codes.js';
import type { RuleId } from './codes.js';
import { membersOf } from './members.js';
import { coordinationFacts, FACT_SOURCE } from './facts.js';
import { isEmpty } from './period.js';
import type { FactQuery } from './facts.js';
import type { CoordinationReader, MemberRecord, MemberRecordPart } from './reader.js';
import { addToRecord, emptyRecord, MEMBER_RESOURCE_TYPES, partOfType, REFERENCED_RESOURCE_TYPES } from './reader.js';
import { RULES } from './rules/index.js';
import type { Batch, Rule, RuleContext, Site, Violation } from './rules/types.js';

export { membersOf } from './members.js';

export interface ProposedWrite {
  operation: 'create' | 'update' | 'delete';
  resourceType: string;
  id: string;
  /** The new state; absent for delete. */
  resource?: Resource;
  /** The version being replaced or deleted; absent for create. */
  previous?: Resource;
}

export interface Finding {
  readonly ruleId: RuleId;
  readonly issue: OperationOutcomeIssue;
  /** `Type/id` of every resource the violation involves (the storage layer may answer 409 when one of them was committed by a concurrent transaction). */
  readonly involves: readonly string[];
}

export interface CheckOptions {
  /** Defaults to all contract rules. */
  rules?: readonly Rule[];
}

/** Member ids to lock for the batch: new and previous states (an update may move a resource), sorted. */
export function lockOrder(writes: readonly ProposedWrite[]): string[] {
  const ids = new Set<string>();
  for (const w of writes) {
    for (const id of membersOf(w.resource)) ids.add(id);
    for (const id of membersOf(w.previous)) ids.add(id);
  }
  return [...ids].sort();
}

type Side = 'after' | 'before';

const keyOf = (w: ProposedWrite): string => `${w.resourceType}/${w.id}`;

function stateOf(w: ProposedWrite, side: Side): Resource | undefined {
  const state = side === 'after' ? (w.operation === 'delete' ? undefined : w.resource) : w.previous;
  if (!state) return undefined;
  return state.id === w.id ? state : ({ ...state, id: w.id });
}

/** The record parts a rule reads for a batch writing `types` (see Rule.reads). */
function partsRead(rule: Rule, types: ReadonlySet<string>): readonly MemberRecordPart[] {
  const reads = rule.reads;
  if (isPartList(reads)) return reads;
  const byType = reads as Partial<Record<string, readonly MemberRecordPart[]>>;
  return [...types].flatMap((t) => byType[t] ?? []);
}

function isPartList(reads: Rule['reads']): reads is readonly MemberRecordPart[] {
  return Array.isArray(reads);
}

/** Makes reading a part that no triggered rule declared an error (see Rule.reads). */
function guardParts(record: MemberRecord, parts: ReadonlySet<MemberRecordPart>): MemberRecord {
  for (const part of Object.keys(record) as MemberRecordPart[]) {
    if (parts.has(part)) continue;
    Object.defineProperty(record, part, {
      get: () => {
        throw new Error(`a coordination rule read record.${part} without declaring it in Rule.reads`);
      },
    });
  }
  return record;
}

function overlayRecord(raw: MemberRecord, writes: readonly ProposedWrite[], patientId: string, side: Side): MemberRecord {
  const written = new Set(writes.map(keyOf));
  const keep = <T extends Resource>(list: T[]): T[] => list.filter((r) => !written.has(`${r.resourceType}/${r.id}`));
  const out: MemberRecord = {
    careTeams: keep(raw.careTeams),
    carePlans: keep(raw.carePlans),
    serviceRequests: keep(raw.serviceRequests),
    consents: keep(raw.consents),
    episodes: keep(raw.episodes),
  };
  // Written resources go last, so that pairwise rules (which report the later element) land on them.
  for (const w of writes) {
    const state = stateOf(w, side);
    if (state && membersOf(state).includes(patientId)) addToRecord(out, state);
  }
  return out;
}

function overlayReader(reader: CoordinationReader, writes: readonly ProposedWrite[], side: Side): RuleContext['read'] {
  const byKey = new Map(writes.map((w) => [keyOf(w), w] as const));
  const cache = new Map<string, Promise<Resource | undefined>>();
  return (resourceType, id) => {
    if (!REFERENCED_RESOURCE_TYPES.has(resourceType) && !(MEMBER_RESOURCE_TYPES as readonly string[]).includes(resourceType)) {
      throw new Error(`a coordination rule read ${resourceType}, which is not in REFERENCED_RESOURCE_TYPES`);
    }
    const key = `${resourceType}/${id}`;
    let hit = cache.get(key);
    if (!hit) {
      const w = byKey.get(key);
      hit = w ? Promise.resolve(stateOf(w, side)) : reader.read(resourceType, id);
      cache.set(key, hit);
    }
    return hit;
  };
}

/** The new and previous states of the batch's resources that belong to the member. */
function statesOf(writes: readonly ProposedWrite[], patientId: string): Resource[] {
  return writes.flatMap((w) => [stateOf(w, 'after'), stateOf(w, 'before')]).filter((r): r is Resource => !!r && membersOf(r).includes(patientId));
}

/** Per part: undefined = load it whole; a list = only stored resources with a fact matching a query. */
type Plan = Map<MemberRecordPart, FactQuery[] | undefined>;

function planSelection(rules: readonly Rule[], batch: Batch, parts: ReadonlySet<MemberRecordPart>, plan: Plan = new Map()): Plan {
  for (const rule of rules) {
    const selected = rule.select?.(batch) ?? {};
    for (const part of partsRead(rule, batch.types)) {
      if (!parts.has(part)) continue;
      const s = selected[part];
      if (s === undefined || s === 'all') {
        plan.set(part, undefined);
        continue;
      }
      if (plan.has(part) && plan.get(part) === undefined) continue;
      for (const q of s) {
        if (partOfType(FACT_SOURCE[q.kind]) !== part) throw new Error(`rule ${rule.id} selects ${part} by ${q.kind} facts, which come from ${FACT_SOURCE[q.kind]}`);
      }
      plan.set(part, [...(plan.get(part) ?? []), ...s]);
    }
  }
  return plan;
}

const queryKey = (q: FactQuery): string => `${q.kind}|${q.key}|${q.range.start}|${q.range.end}|${q.otherOrgThan ?? ''}`;

/** The plan's queries without repeats, and without empty ranges (e.g. an occurrence that ends before it starts), which match nothing. */
function uniqueQueries(plan: Plan): FactQuery[] {
  const byKey = new Map<string, FactQuery>();
  for (const list of plan.values()) for (const q of list ?? []) if (!isEmpty(q.range)) byKey.set(queryKey(q), q);
  return [...byKey.values()];
}

/**
 * The member's stored resources the triggered rules need (see Rule.select): parts some rule needs whole
 * are read whole; the others only as the stored resources whose facts match the rules' queries, asked
 * once more for rules whose judgement of a selected resource depends on yet others (selectTransitive).
 */
async function loadRecord(
  reader: CoordinationReader,
  patientId: string,
  rules: readonly Rule[],
  types: ReadonlySet<string>,
  parts: ReadonlySet<MemberRecordPart>,
  states: readonly Resource[],
): Promise<MemberRecord> {
  // An Organization/Practitioner/PractitionerRole written in the same batch can change the verdict on
  // any stored resource that refers to it (a role, a qualification, a role's organization): no selection.
  if (!reader.withFacts || [...types].some((t) => REFERENCED_RESOURCE_TYPES.has(t))) return reader.memberRecord(patientId, [...parts]);
  let plan = planSelection(rules, { types, states, facts: states.flatMap(coordinationFacts) }, parts);
  const whole = [...parts].filter((p) => plan.get(p) === undefined);
  // Readers may fill more parts than asked: keep only the whole ones, the others are selected below.
  const record = emptyRecord();
  const queries = uniqueQueries(plan);
  // Asked together: a reader inside a write transaction sends both reads in one round trip.
  const [wholeRecord, first] = await Promise.all([
    whole.length > 0 ? reader.memberRecord(patientId, whole) : undefined,
    queries.length > 0 ? reader.withFacts(patientId, queries) : undefined,
  ]);
  if (wholeRecord) Object.assign(record, pick(wholeRecord, whole));
  if (!first) return record;
  let selected = first;
  const transitive = rules.filter((r) => r.selectTransitive);
  if (transitive.length > 0 && selected.length > 0) {
    // Second round: what the transitive rules need to judge the resources the first round loaded.
    const second = planSelection(transitive, { types, states: selected, facts: selected.flatMap(coordinationFacts) }, parts, new Map(plan));
    const nowWhole = [...parts].filter((p) => second.get(p) === undefined && plan.get(p) !== undefined);
    if (nowWhole.length > 0) Object.assign(record, pick(await reader.memberRecord(patientId, nowWhole), nowWhole));
    const asked = new Set(queries.map(queryKey));
    const widened = uniqueQueries(second);
    if (widened.some((q) => !asked.has(queryKey(q)))) selected = await reader.withFacts(patientId, widened);
    plan = second;
  }
  for (const r of selected) {
    const part = partOfType(r.resourceType);
    if (part && plan.get(part) !== undefined) addToRecord(record, r);
  }
  return record;
}

function pick(record: MemberRecord, parts: readonly MemberRecordPart[]): Partial<MemberRecord> {
  return Object.fromEntries(parts.map((p) => [p, record[p]]));
}

async function run(rules: readonly Rule[], ctx: RuleContext): Promise<Array<{ rule: Rule; v: Violation }>> {
  const out: Array<{ rule: Rule; v: Violation }> = [];
  for (const rule of rules) {
    for (const v of await rule.check(ctx)) out.push({ rule, v });
  }
  return out;
}

export async function checkWritesDetailed(
  writes: readonly ProposedWrite[],
  reader: CoordinationReader,
  options: CheckOptions = {},
): Promise<Finding[]> {
  const types = new Set(writes.map((w) => w.resourceType));
  const rules = (options.rules ?? RULES).filter((r) => r.appliesTo.some((t) => types.has(t)));
  if (rules.length === 0 || !writes.some((w) => (MEMBER_RESOURCE_TYPES as readonly string[]).includes(w.resourceType))) {
    return [];
  }
  const written = new Set(writes.map(keyOf));
  const present = new Set(writes.filter((w) => w.operation !== 'delete' && w.resource).map(keyOf));
  const readAfter = overlayReader(reader, writes, 'after');
  const readBefore = overlayReader(reader, writes, 'before');

  const parts = new Set(rules.flatMap((r) => partsRead(r, types)));
  const fresh = new Map<string, { rule: Rule; v: Violation }>();
  for (const patientId of lockOrder(writes)) {
    const raw = await loadRecord(reader, patientId, rules, types, parts, statesOf(writes, patientId));
    const after = await run(rules, { patientId, record: guardParts(overlayRecord(raw, writes, patientId, 'after'), parts), written, read: readAfter });
    if (after.length === 0) continue;
    const suspects = rules.filter((r) => after.some((a) => a.rule === r));
    const before = await run(suspects, {
      patientId,
      record: guardParts(overlayRecord(raw, writes, patientId, 'before'), parts),
      written,
      read: readBefore,
    });
    const old = new Set(before.map(({ rule, v }) => `${rule.id}|${v.key}`));
    for (const a of after) {
      const key = `${a.rule.id}|${a.v.key}`;
      if (!old.has(key) && !fresh.has(key)) fresh.set(key, a);
    }
  }
  return toFindings([...fresh.values()], present);
}

export async function checkWrites(
  writes: readonly ProposedWrite[],
  reader: CoordinationReader,
  options: CheckOptions = {},
): Promise<OperationOutcomeIssue[]> {
  return (await checkWritesDetailed(writes, reader, options)).map((f) => f.issue);
}

function pickSite(v: Violation, present: ReadonlySet<string>): { site: Site; inWrite: boolean } | undefined {
  const inWrite = v.sites.find((s) => present.has(s.ref));
  if (inWrite) return { site: inWrite, inWrite: true };
  const first = v.sites[0];
  return first ? { site: first, inWrite: false } : undefined;
}

/** One issue per broken rule and reported resource: several elements of it become several expressions. */
function toFindings(found: ReadonlyArray<{ rule: Rule; v: Violation }>, present: ReadonlySet<string>): Finding[] {
  interface Acc {
    ruleId: RuleId;
    code: OperationOutcomeIssue['code'];
    texts: string[];
    expressions: string[];
    diagnostics: string[];
    involves: Set<string>;
  }
  const groups = new Map<string, Acc>();
  for (const { rule, v } of found) {
    const picked = pickSite(v, present);
    if (!picked) continue;
    const { site, inWrite } = picked;
    const gk = `${rule.id}|${site.ref}`;
    let acc = groups.get(gk);
    if (!acc) {
      acc = { ruleId: rule.id, code: v.code ?? 'business-rule', texts: [], expressions: [], diagnostics: [], involves: new Set() };
      groups.set(gk, acc);
    }
    const push = (list: string[], s: string): void => {
      if (!list.includes(s)) list.push(s);
    };
    push(acc.texts, v.text);
    push(acc.expressions, site.expression);
    push(acc.diagnostics, inWrite ? site.diagnostics : `${site.ref} (not in this write): ${site.diagnostics}`);
    for (const s of v.sites) acc.involves.add(s.ref);
  }
  const order = (id: RuleId): number => RULES.findIndex((r) => r.id === id);
  return [...groups.values()]
    .sort((a, b) => order(a.ruleId) - order(b.ruleId))
    .map((acc) => ({
      ruleId: acc.ruleId,
      involves: [...acc.involves],
      issue: {
        severity: 'error',
        code: acc.code,
        details: { coding: [{ system: CodeSystems.rule, code: acc.ruleId }], text: acc.texts.join(' ') },
        expression: acc.expressions,
        diagnostics: acc.diagnostics.join('; '),
      },
    }));
}

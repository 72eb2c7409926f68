// Public surface of the coordination rules for the storage and HTTP layers.
export { checkWrites, checkWritesDetailed, lockOrder, membersOf } from './engine.js';
export type { CheckOptions, Finding, ProposedWrite } from './engine.js';
export type { CoordinationReader, MemberRecord, MemberRecordPart } from './reader.js';
export { addToRecord, emptyRecord, partOfType } from './reader.js';
export { MemoryReader } from './memory-reader.js';
export { RULES, RULE_BY_ID } from './rules/index.js';
export type { Rule, RuleContext, Site, Violation } from './rules/index.js';

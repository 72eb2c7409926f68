// Bulk import of NDJSON files (docs/adr/0014): each file is read in batches; each batch is one
// transaction that locks its resources and members, judges every line with the coordination rules as a
// PUT of that resource would be judged at that point (earlier lines of the batch included), writes the
// accepted ones in a few multi-row statements and journals the file offset it reached. A crash loses at
// most the uncommitted batch, and re-running the same command resumes after the last committed one.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { addToRecord, checkWritesDetailed, emptyRecord, membersOf, partOfType, type CoordinationReader, type Finding, type MemberRecordPart, type ProposedWrite } from '../coordination/index.js';
import { REFERENCED_RESOURCE_TYPES, rulesReferences } from '../coordination/reader.js';
import { stringifyWithTexts } from '../fhir/number-text.js';
import { INDEX_FIELDS, type IndexColumns } from '../fhir/search/index-columns.js';
import { hasErrors, outcome } from '../fhir/outcome.js';
import type { StoredVersion } from '../fhir/repository.js';
import { stamp } from '../fhir/resource-service.js';
import { inspectFile, orderFiles, type SourceFile } from './files.js';
import { readLines, type RawLine } from './ndjson.js';
import { prepareLine, type Prepared, type PrepareOptions } from './prepare.js';
import type { BatchVersion, BulkWriteTx, FileProgress, ImportStore, LineError } from './store.js';

/** Where each member-owned type points at the member (as CoordinationChecker reads the record). */
const MEMBER_LINKS: readonly { resourceType: string; code: string }[] = [
  { resourceType: 'CareTeam', code: 'subject' },
  { resourceType: 'CarePlan', code: 'subject' },
  { resourceType: 'ServiceRequest', code: 'subject' },
  { resourceType: 'Consent', code: 'patient' },
  { resourceType: 'EpisodeOfCare', code: 'patient' },
];

/** Prepares a batch of lines of one file: in this thread, or in a worker pool (prepare-pool.ts). */
export type BatchPreparer = (lines: readonly RawLine[], options: PrepareOptions) => Promise<Prepared[]>;

export const prepareInThread: BatchPreparer = (lines, options) => Promise.resolve(lines.map((l) => prepareLine(l.bytes, l.line, l.end, options)));

export interface ImportOptions {
  store: ImportStore;
  /** Apply the coordination rules (CONCORD_RULES). */
  rules: boolean;
  baseUrls: readonly string[];
  maxJsonDepth: number;
  maxIndexRows?: number;
  /** Lines per transaction. */
  batchSize?: number;
  /** Batches prepared ahead of the one being written (DEFAULT_PREPARE_AHEAD). */
  prepareAhead?: number;
  /** Accepted versions per write statement within a batch (WRITE_CHUNK). */
  writeChunk?: number;
  prepare?: BatchPreparer;
  onProgress?: (p: ImportProgress) => void;
  now?: () => Date;
}

export interface FileReport {
  name: string;
  resourceType: string;
  fileKey: string;
  /** True when an earlier run had already completed it (nothing was read). */
  alreadyComplete: boolean;
  /** Counts over all runs of this file. */
  written: number;
  unchanged: number;
  rejected: number;
  lines: number;
}

export interface ImportProgress {
  file: string;
  /** Bytes committed of all files of this run (resumed files count what earlier runs committed). */
  bytesDone: number;
  bytesTotal: number;
  written: number;
  unchanged: number;
  rejected: number;
}

export interface ImportSummary {
  files: FileReport[];
  /** Lines this run stored as new versions / found unchanged / rejected. */
  written: number;
  unchanged: number;
  rejected: number;
  ms: number;
}

export const DEFAULT_BATCH_SIZE = 1000;

/**
 * Batches prepared ahead of the one being written, counted across file boundaries: the next file's first
 * batches are prepared while the current file's last one is written, so the preparing thread does not
 * idle at each file's end, and batches that are slow to write (a CareTeam file) leave the preparing
 * thread work banked from the ones that were quick (bench/RESULTS.md, 2026-12-03, "batches prepared
 * ahead": 3 against 1 measured +26 % in two of three pairs and even in the third).
 */
export const DEFAULT_PREPARE_AHEAD = 3;

/**
 * Accepted versions sent per statement within a batch: the statement goes out at once and PostgreSQL
 * writes these while this thread judges the batch's next lines (the rules read the batch's state from
 * memory), instead of the whole write waiting for the last line's judgement.
 */
export const WRITE_CHUNK = 250;

export async function importFiles(paths: readonly string[], options: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const files = orderFiles(await Promise.all(paths.map((p) => inspectFile(p))));
  const progress: ImportProgress = { file: '', bytesDone: 0, bytesTotal: files.reduce((n, f) => n + f.size, 0), written: 0, unchanged: 0, rejected: 0 };
  const summary: ImportSummary = { files: [], written: 0, unchanged: 0, rejected: 0, ms: 0 };
  const { store } = options;
  // Batches are prepared (parsed, validated, indexed) up to `prepareAhead` ahead of the one being written,
  // across file boundaries, so the preparing threads never wait for a commit (docs/adr/0014, addendum 4).
  const queue = lookahead(planned(files, options), Math.max(1, options.prepareAhead ?? DEFAULT_PREPARE_AHEAD), (step) => step.kind === 'batch');
  try {
    for (let step = await queue.next(); step; step = await queue.next()) {
      if (step.kind === 'duplicate') {
        // The same content named twice is one file.
        progress.bytesDone += step.file.size;
        continue;
      }
      const { run } = step;
      if (step.kind === 'file') {
        summary.files.push(run.report);
        progress.file = run.file.name;
        progress.bytesDone += run.report.alreadyComplete ? run.file.size : run.offset;
        options.onProgress?.(progress);
      } else if (step.kind === 'batch') {
        const prepared = await step.prepared;
        const last = step.lines[step.lines.length - 1]!;
        const counts = await writeBatch(store, run.file.fileKey, prepared, last.end, last.line, options);
        progress.bytesDone += last.end - run.offset;
        run.offset = last.end;
        for (const c of [progress, summary, run.report]) {
          c.written += counts.written;
          c.unchanged += counts.unchanged;
          c.rejected += counts.rejected;
        }
        run.report.lines = last.line;
        options.onProgress?.(progress);
      } else {
        await store.journal.complete(run.file.fileKey);
        progress.bytesDone += run.file.size - run.offset;
        options.onProgress?.(progress);
      }
    }
  } finally {
    await queue.stop();
  }
  summary.ms = Date.now() - started;
  return summary;
}

/** A file being imported: its report (counts over all runs) and the offset committed so far. */
interface FileRun {
  file: SourceFile;
  report: FileReport;
  offset: number;
}

type Step =
  | { kind: 'duplicate'; file: SourceFile }
  | { kind: 'file'; run: FileRun }
  | { kind: 'batch'; run: FileRun; lines: RawLine[]; prepared: Promise<Prepared[]> }
  | { kind: 'end'; run: FileRun };

/**
 * The import as a sequence of steps, each batch's preparation started when the step is produced. The
 * journal's start of a file (its committed offset) is read when the lookahead reaches the file, possibly
 * while the previous file's last batches are still being written: it only names where to continue, and
 * registering a file that is not yet written to changes nothing a resumed run would read.
 */
async function* planned(files: readonly SourceFile[], options: ImportOptions): AsyncGenerator<Step> {
  const prepare = options.prepare ?? prepareInThread;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file.fileKey)) {
      yield { kind: 'duplicate', file };
      continue;
    }
    seen.add(file.fileKey);
    const start = await options.store.journal.begin(file);
    const run: FileRun = { file, report: { name: file.name, resourceType: file.resourceType, fileKey: file.fileKey, alreadyComplete: start.completed, ...countsOf(start) }, offset: start.committedOffset };
    yield { kind: 'file', run };
    if (start.completed) continue;
    const prepareOptions: PrepareOptions = {
      resourceType: file.resourceType,
      maxJsonDepth: options.maxJsonDepth,
      baseUrls: options.baseUrls,
      ...(options.maxIndexRows !== undefined ? { maxIndexRows: options.maxIndexRows } : {}),
    };
    for await (const lines of batchesOf(readLines(file.path, start.committedOffset, start.committedLines + 1), batchSize)) {
      const prepared = prepare(lines, prepareOptions);
      // Awaited in its turn; one the import never reaches (it stopped or failed before) is not an
      // unhandled rejection.
      void prepared.catch(() => undefined);
      yield { kind: 'batch', run, lines, prepared };
    }
    yield { kind: 'end', run };
  }
}

/**
 * Pulls `source` ahead of its consumer in the background, holding at most `limit` items that `counts`
 * (the rest, cheap markers, pass freely). `stop` ends the pulling and closes the source.
 */
function lookahead<T>(source: AsyncGenerator<T>, limit: number, counts: (item: T) => boolean): { next(): Promise<T | undefined>; stop(): Promise<void> } {
  const items: T[] = [];
  let held = 0;
  let done = false;
  let stopped = false;
  let failure: { err: unknown } | undefined;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const wake = (which: 'consumer' | 'producer'): void => {
    const w = which === 'consumer' ? wakeConsumer : wakeProducer;
    if (which === 'consumer') wakeConsumer = undefined;
    else wakeProducer = undefined;
    w?.();
  };
  const producer = (async () => {
    try {
      while (!stopped) {
        if (held >= limit) {
          await new Promise<void>((resolve) => (wakeProducer = resolve));
          continue;
        }
        const r = await source.next();
        if (r.done) break;
        items.push(r.value);
        if (counts(r.value)) held++;
        wake('consumer');
      }
    } catch (err) {
      failure = { err };
    } finally {
      done = true;
      wake('consumer');
    }
  })();
  return {
    async next() {
      for (;;) {
        const item = items.shift();
        if (item !== undefined) {
          if (counts(item)) {
            held--;
            wake('producer');
          }
          return item;
        }
        if (failure) throw failure.err;
        if (done) return undefined;
        await new Promise<void>((resolve) => (wakeConsumer = resolve));
      }
    },
    async stop() {
      stopped = true;
      wake('producer');
      await producer;
      await source.return(undefined);
    },
  };
}

function countsOf(p: FileProgress): Pick<FileReport, 'written' | 'unchanged' | 'rejected' | 'lines'> {
  return { written: p.written, unchanged: p.unchanged, rejected: p.rejected, lines: p.committedLines };
}

/**
 * Batches of `size` lines; a batch runs on past `size` (up to twice it) while the next line belongs to the
 * same member as the last, so a member's adjacent lines in a file (its CareTeams, its orders) commit together.
 */
async function* batchesOf(lines: AsyncIterable<RawLine>, size: number): AsyncGenerator<RawLine[]> {
  let batch: RawLine[] = [];
  let lastMember: string | undefined;
  for await (const line of lines) {
    const member = memberHint(line.bytes);
    if (batch.length >= size && (member === undefined || member !== lastMember || batch.length >= 2 * size)) {
      yield batch;
      batch = [];
    }
    batch.push(line);
    lastMember = member;
  }
  if (batch.length > 0) yield batch;
}

const MEMBER_REFERENCE = /"(?:subject|patient)"\s*:\s*\{\s*"reference"\s*:\s*"Patient\/([^"]+)"/;

/** The member a line's resource points at, read from its text (only batch boundaries depend on it). */
function memberHint(bytes: Buffer): string | undefined {
  return MEMBER_REFERENCE.exec(bytes.toString('utf8'))?.[1];
}

interface BatchCounts {
  written: number;
  unchanged: number;
  rejected: number;
}

/** One transaction: locks, per-line rule checks against the state so far, the batched write and the journal. */
async function writeBatch(store: ImportStore, fileKey: string, prepared: readonly Prepared[], endOffset: number, endLine: number, options: ImportOptions): Promise<BatchCounts> {
  const now = options.now ?? (() => new Date());
  return store.transaction(async (tx) => {
    const errors: LineError[] = [];
    const valid: Extract<Prepared, { ok: true }>[] = [];
    for (const p of prepared) {
      if (p.ok) valid.push(p);
      else errors.push({ line: p.line, ...(p.resourceType ? { resourceType: p.resourceType } : {}), ...(p.id ? { id: p.id } : {}), outcome: p.outcome });
    }
    // Resources first, then members: the order a single PUT takes its locks in.
    const stored = await tx.lockCurrentMany(unique(valid.map((p) => ({ resourceType: p.resourceType, id: p.id }))));
    const state = new BatchState(tx, stored);
    if (options.rules) {
      const members = new Set<string>();
      for (const p of valid) {
        for (const m of membersOf(p.resource)) members.add(m);
        for (const m of membersOf(state.previous(p.resourceType, p.id))) members.add(m);
      }
      const sorted = [...members].sort();
      await tx.lockKeys(sorted.map((m) => `member:${m}`));
      await Promise.all([state.loadMembers(sorted), state.prefetchReferenced(valid)]);
    }
    const versions: BatchVersion[] = [];
    let unchanged = 0;
    let written = 0;
    for (const p of valid) {
      const key = `${p.resourceType}/${p.id}`;
      const current = state.current(key);
      const live = current && !current.deleted ? current : undefined;
      if (live && stringifyWithTexts(stamp(p.resource, p.id, live.versionId, live.lastUpdated), p.texts) === live.content) {
        unchanged++;
        continue;
      }
      const previous = state.previous(p.resourceType, p.id);
      const write: ProposedWrite = {
        operation: previous ? 'update' : 'create',
        resourceType: p.resourceType,
        id: p.id,
        resource: p.resource,
        ...(previous ? { previous } : {}),
      };
      if (options.rules) {
        const findings = (await checkWritesDetailed([write], state.reader)).filter((f) => hasErrors([f.issue]));
        if (findings.length > 0) {
          errors.push(ruleError(p.line, key, findings));
          continue;
        }
      }
      // The same id twice in one batch: the earlier version must be a row before its successor is written.
      if (state.inBatch(key)) await flush(tx, versions);
      const versionId = (current?.versionId ?? 0) + 1;
      const lastUpdated = now().toISOString();
      const resource = stamp(p.resource, p.id, versionId, lastUpdated);
      const version: StoredVersion = { resourceType: p.resourceType, id: p.id, versionId, lastUpdated, deleted: false, content: stringifyWithTexts(resource, p.texts) };
      versions.push({ version, resource, indexColumns: p.index, members: p.members });
      written++;
      state.accept(version, resource as unknown as Resource, previous);
      if (versions.length >= (options.writeChunk ?? WRITE_CHUNK)) await flush(tx, versions);
    }
    await flush(tx, versions);
    errors.sort((a, b) => a.line - b.line);
    await tx.recordBatch(fileKey, { endOffset, endLine, written, unchanged, errors });
    return { written, unchanged, rejected: errors.length };
  });
}

async function flush(tx: BulkWriteTx, versions: BatchVersion[]): Promise<void> {
  await tx.writeVersions(versions.splice(0));
}

function unique(refs: { resourceType: string; id: string }[]): { resourceType: string; id: string }[] {
  const byKey = new Map(refs.map((r) => [`${r.resourceType}/${r.id}`, r]));
  return [...byKey.values()];
}

function ruleError(line: number, key: string, findings: readonly Finding[]): LineError {
  const [resourceType, id] = key.split('/') as [string, string];
  const conflicting = [...new Set(findings.flatMap((f) => f.involves).filter((ref) => ref !== key))];
  const issues: OperationOutcomeIssue[] = findings.map((f) => f.issue);
  return { line, resourceType, id, ruleId: findings[0]!.ruleId, ...(conflicting.length ? { conflicting } : {}), outcome: outcome(issues) };
}

const REF_TYPE = INDEX_FIELDS.reference.indexOf('targetType');
const REF_ID = INDEX_FIELDS.reference.indexOf('targetId');
const REF_URL = INDEX_FIELDS.reference.indexOf('url');


/** A member's resource in BatchState: its stored text until a rule reads it, then the parsed resource. */
interface MemberEntry {
  resourceType: string;
  content?: string;
  resource?: Resource;
}

/**
 * What the batch's transaction sees: the rows locked at its start, each member's record as stored, and
 * the versions accepted so far in this batch on top. The coordination reader answers from it, so a line
 * is judged against the stored data plus the earlier lines exactly as a PUT after those lines would be.
 */
class BatchState {
  private readonly accepted = new Map<string, StoredVersion>();
  private readonly acceptedResources = new Map<string, Resource>();
  private readonly writtenThisBatch = new Set<string>();
  /**
   * member id -> `Type/id` -> the member's current coordination resource: as stored (its text, parsed the
   * first time a rule reads its part of the record) or as accepted in this batch.
   */
  private readonly members = new Map<string, Map<string, MemberEntry>>();
  private readonly reads = new Map<string, Promise<Resource | undefined>>();
  readonly reader: CoordinationReader;

  constructor(
    private readonly tx: BulkWriteTx,
    private readonly stored: ReadonlyMap<string, StoredVersion>,
  ) {
    this.reader = {
      memberRecord: (patientId: string, parts?: readonly MemberRecordPart[]) => {
        // Only the parts asked for are filled (the engine reads no other): the rest stays unparsed.
        const wanted = parts ? new Set(parts) : undefined;
        const record = emptyRecord();
        for (const entry of this.members.get(patientId)?.values() ?? []) {
          const part = partOfType(entry.resourceType);
          if (!part || (wanted && !wanted.has(part))) continue;
          entry.resource ??= JSON.parse(entry.content!) as Resource;
          addToRecord(record, entry.resource);
        }
        return Promise.resolve(record);
      },
      read: (resourceType: string, id: string) => {
        const key = `${resourceType}/${id}`;
        const mine = this.acceptedResources.get(key);
        if (mine) return Promise.resolve(mine);
        let hit = this.reads.get(key);
        if (!hit) {
          hit = this.tx.read(resourceType, id).then((v) => (v?.content ? (JSON.parse(v.content) as Resource) : undefined));
          this.reads.set(key, hit);
        }
        return hit;
      },
    };
  }

  current(key: string): StoredVersion | undefined {
    return this.accepted.get(key) ?? this.stored.get(key);
  }

  previous(resourceType: string, id: string): Resource | undefined {
    const key = `${resourceType}/${id}`;
    const mine = this.acceptedResources.get(key);
    if (mine) return mine;
    const v = this.stored.get(key);
    return v?.content && !v.deleted ? (JSON.parse(v.content) as Resource) : undefined;
  }

  inBatch(key: string): boolean {
    return this.writtenThisBatch.has(key);
  }

  async loadMembers(memberIds: readonly string[]): Promise<void> {
    const records = await this.tx.findReferencingMany(memberIds, MEMBER_LINKS);
    for (const id of memberIds) {
      const map = new Map<string, MemberEntry>();
      for (const r of records.get(id) ?? []) map.set(`${r.resourceType}/${r.id}`, { resourceType: r.resourceType, content: r.content });
      this.members.set(id, map);
    }
  }

  /**
   * Reads, in two statements, the directory resources the rules may read (`read`) for the batch's lines:
   * those the lines reference (their index's reference rows), then those these reference (a role's
   * organization and practitioner). Each would otherwise be a round trip of its own, waited for in the
   * middle of judging, behind the batch's write statements on the same connection. A read of anything
   * else still goes to the database; what the batch accepts itself is answered from memory first.
   */
  async prefetchReferenced(lines: readonly { index: IndexColumns }[]): Promise<void> {
    const first = new Set<string>();
    for (const { index } of lines) {
      const rows = index.reference;
      if (!rows) continue;
      const types = rows[REF_TYPE]!;
      const ids = rows[REF_ID]!;
      const urls = rows[REF_URL]!;
      for (let i = 0; i < types.length; i++) {
        if (urls[i] === null && typeof ids[i] === 'string' && REFERENCED_RESOURCE_TYPES.has(types[i] as string)) first.add(`${types[i] as string}/${ids[i] as string}`);
      }
    }
    const found = await this.readInto(first);
    const second = new Set<string>();
    for (const r of found) for (const key of rulesReferences(r).keys()) second.add(key);
    await this.readInto(second);
  }

  private async readInto(keys: ReadonlySet<string>): Promise<Resource[]> {
    const wanted = [...keys].filter((k) => !this.reads.has(k) && !this.acceptedResources.has(k));
    if (wanted.length === 0) return [];
    const rows = await this.tx.readCurrentMany(wanted.map((k) => ({ resourceType: k.slice(0, k.indexOf('/')), id: k.slice(k.indexOf('/') + 1) })));
    const out: Resource[] = [];
    for (const key of wanted) {
      const content = rows.get(key)?.content;
      const resource = content ? (JSON.parse(content) as Resource) : undefined;
      this.reads.set(key, Promise.resolve(resource));
      if (resource) out.push(resource);
    }
    return out;
  }

  accept(version: StoredVersion, resource: Resource, previous: Resource | undefined): void {
    const key = `${version.resourceType}/${version.id}`;
    this.accepted.set(key, version);
    this.acceptedResources.set(key, resource);
    this.writtenThisBatch.add(key);
    for (const m of membersOf(previous)) this.members.get(m)?.delete(key);
    for (const m of membersOf(resource)) this.members.get(m)?.set(key, { resourceType: resource.resourceType, resource });
  }

}

// Runs `$import` jobs (docs/adr/0019): each instance polls for an unfinished job whose lease is free,
// claims it, downloads its inputs through the outbound guard into a private directory and hands them to
// the bulk importer (importFiles: batched transactions, rules per line, journal). Progress reports renew
// the lease; a job whose instance died is claimed again once its lease expired and, thanks to the
// journal keyed by content, continues after its last committed batch (or re-reads lines it already
// stored as unchanged), so nothing is stored twice. Every batch commits only under the lease its runner
// still holds (fencedStore): a runner that stalled past its lease (a long GC pause) while another took
// the job over has its next batch rolled back and stops. A cancellation is seen at the next progress
// report and stops the job between batches. One BALP AuditEvent records each finished job with its counts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { buildAuditRecord } from '../audit/balp.js';
import type { AuditRecord } from '../audit/types.js';
import { issue, outcome } from '../fhir/outcome.js';
import { OutboundRefused } from '../net/outbound-guard.js';
import type { FileDownloader } from '../net/fetch-to-file.js';
import { importFiles, type BatchPreparer, type ImportSummary } from './importer.js';
import type { ImportJob, ImportJobStore, JobFile, JobLease, JobProgress, JobResult } from './jobs.js';
import { readLines } from './ndjson.js';
import type { ImportStore } from './store.js';

export interface JobRunnerOptions {
  jobs: ImportJobStore;
  store: ImportStore;
  downloader: FileDownloader;
  rules: boolean;
  baseUrls: readonly string[];
  maxJsonDepth: number;
  maxIndexRows?: number;
  batchSize?: number;
  leaseMs: number;
  pollMs: number;
  /** A preparer for the job's duration (worker threads), closed when the job ends. */
  openPreparer?: () => { prepare: BatchPreparer; close(): Promise<void> };
  /** Stores the job's AuditEvent (absent when auditing is off). */
  recordAudit?: (record: AuditRecord) => Promise<void>;
  logger?: Logger | false;
  /** Names this instance in leases. */
  instanceId?: string;
}

/** Thrown from a progress report to stop the import between batches. */
class Stop extends Error {
  constructor(readonly reason: 'cancelled' | 'lease-lost') {
    super(reason);
  }
}

/** An input that is not what the kick-off said it is. */
class InputError extends Error {}

export class ImportJobRunner {
  readonly instanceId: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private again = false;
  private readonly abort = new AbortController();

  constructor(private readonly options: JobRunnerOptions) {
    this.instanceId = options.instanceId ?? `concord-${randomUUID()}`;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Looks for a job now (after a kick-off on this instance). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        this.timer = setTimeout(() => this.wake(), this.options.pollMs);
        this.timer.unref();
      }
    });
  }

  /** Stops polling and abandons the current job (its lease expires; another instance continues it). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      let job: ImportJob | undefined;
      try {
        job = await this.options.jobs.claim(this.instanceId, this.options.leaseMs);
      } catch (err) {
        this.log('warn', { err: errorSummary(err) }, 'import job claim failed');
        return;
      }
      if (!job) return;
      await this.run(job);
    }
  }

  /** Runs one claimed job to its end (or until it is cancelled, taken over or this instance stops). */
  async run(job: ImportJob): Promise<void> {
    const { jobs, leaseMs } = this.options;
    const owner = this.instanceId;
    const dir = await mkdtemp(join(tmpdir(), 'concord-import-job-'));
    const preparer = this.options.openPreparer?.();
    const ended = { done: false };
    let progress: JobProgress | undefined;
    let lastReport = 0;
    // Set from the heartbeat's callbacks: an object, so the checks below are not narrowed away.
    const halted: { stop?: Stop } = {};
    const checkHalted = (): void => {
      if (halted.stop) throw halted.stop;
      if (this.stopped) throw new Stop('lease-lost');
    };
    // Ends a download in progress when the job is cancelled, taken over or this instance stops.
    const jobAbort = new AbortController();
    const signal = jobAbort.signal;
    const onStop = (): void => jobAbort.abort();
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    const halt = (reason: Stop): void => {
      halted.stop ??= reason;
      jobAbort.abort();
    };
    // Downloads renew the lease too: a large input can take longer than one lease.
    const heartbeat = setInterval(() => {
      void jobs.progress(job.id, owner, leaseMs).then(
        (state) => {
          if (!state.held) halt(new Stop('lease-lost'));
          else if (state.cancelRequested) halt(new Stop('cancelled'));
        },
        () => undefined,
      );
    }, Math.max(50, Math.floor(leaseMs / 3)));
    heartbeat.unref();
    this.log('info', { job: job.id, attempt: job.attempts }, 'import job started');
    let result: JobResult;
    try {
      const paths: string[] = [];
      for (const [i, input] of job.inputs.entries()) {
        checkHalted();
        const path = join(dir, `${i}-${input.type}.ndjson`);
        try {
          await this.options.downloader.download(input.url, path, signal);
        } catch (err) {
          // An aborted download is the stop's doing, not the input's.
          checkHalted();
          throw err;
        }
        await assertType(path, input.type, i);
        paths.push(path);
      }
      const lease: JobLease = { id: job.id, owner, attempt: job.attempts };
      const summary = await importFiles(paths, {
        store: fencedStore(this.options.store, jobs, lease),
        rules: this.options.rules,
        baseUrls: this.options.baseUrls,
        maxJsonDepth: this.options.maxJsonDepth,
        ...(this.options.maxIndexRows !== undefined ? { maxIndexRows: this.options.maxIndexRows } : {}),
        ...(this.options.batchSize !== undefined ? { batchSize: this.options.batchSize } : {}),
        ...(preparer ? { prepare: settledAfter(preparer.prepare, ended) } : {}),
        onProgress: (p) => {
          progress = { bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, written: p.written, unchanged: p.unchanged, rejected: p.rejected };
          checkHalted();
          const now = Date.now();
          if (now - lastReport > 250) {
            lastReport = now;
            void jobs.progress(job.id, owner, leaseMs, progress).catch(() => undefined);
          }
        },
      });
      result = { status: 'completed', files: filesOf(job, paths, summary), progress: totalsOf(summary, progress) };
    } catch (err) {
      if (err instanceof Stop && err.reason === 'lease-lost') {
        this.log('warn', { job: job.id }, 'import job left to another instance');
        return;
      }
      if (err instanceof Stop) result = { status: 'cancelled', ...(progress ? { progress } : {}) };
      else result = { status: 'failed', failure: failureOf(err), ...(progress ? { progress } : {}) };
    } finally {
      ended.done = true;
      clearInterval(heartbeat);
      this.abort.signal.removeEventListener('abort', onStop);
      await preparer?.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
    if (this.stopped && result.status !== 'completed') return;
    const finished = await jobs.finish(job.id, owner, result).catch((err: unknown) => {
      this.log('error', { job: job.id, err: errorSummary(err) }, 'import job result not stored');
      return false;
    });
    if (!finished) return;
    this.log('info', { job: job.id, status: result.status, ...(result.progress ? { written: result.progress.written, rejected: result.progress.rejected } : {}) }, 'import job finished');
    await this.audit(job, result);
  }

  /** One AuditEvent for the job: who asked, the outcome and the counts (no resource data). */
  private async audit(job: ImportJob, result: JobResult): Promise<void> {
    if (!this.options.recordAudit) return;
    const p = result.progress;
    const counts = p ? `${p.written} written, ${p.unchanged} unchanged, ${p.rejected} rejected` : 'nothing imported';
    const record = buildAuditRecord({
      recorded: new Date(),
      interaction: 'operation',
      operation: 'import',
      status: result.status === 'failed' ? result.failure.status : 200,
      outcomeText: `import job ${job.id} ${result.status}: ${counts} from ${job.inputs.length} input(s)`,
      requestor: job.clientId ? { clientId: job.clientId } : {},
      serverAddress: job.requestUrl.replace(/\/\$import$/, ''),
    });
    await this.options.recordAudit(record).catch((err: unknown) => this.log('error', { job: job.id, err: errorSummary(err) }, 'import job AuditEvent not stored'));
  }

  private log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void {
    if (this.options.logger) this.options.logger[level](fields, message);
  }
}

/**
 * The job's store with each batch fenced on its lease: the check runs last in the batch's transaction
 * (ImportJobStore.holdsLease), so the batch commits only if this run still held the job then, and the
 * job cannot be claimed by another instance before that COMMIT. A lost lease rolls the batch back and
 * stops the run like a lease loss the heartbeat noticed.
 */
function fencedStore(store: ImportStore, jobs: ImportJobStore, lease: JobLease): ImportStore {
  return {
    kind: store.kind,
    journal: store.journal,
    transaction: (fn) =>
      store.transaction(async (tx) => {
        const result = await fn(tx);
        if (!(await jobs.holdsLease(tx, lease))) throw new Stop('lease-lost');
        return result;
      }),
  };
}

/**
 * The importer prepares the next batch while it writes the current one; when the job stops between the
 * two, that preparation is left unawaited and closing the worker pool fails it. Once the job has ended
 * such a failure is moot: it resolves empty instead of becoming an unhandled rejection.
 */
function settledAfter(prepare: BatchPreparer, ended: { done: boolean }): BatchPreparer {
  return async (lines, options) => {
    try {
      return await prepare(lines, options);
    } catch (err) {
      if (ended.done) return [];
      throw err;
    }
  };
}

/** The input's first resource must be of the type the kick-off named (lines of other types are refused per line). */
async function assertType(path: string, type: string, index: number): Promise<void> {
  for await (const { bytes } of readLines(path)) {
    const found = /"resourceType"\s*:\s*"([A-Za-z]+)"/.exec(bytes.toString('utf8'))?.[1];
    if (found && found !== type) throw new InputError(`input[${index}] was declared as ${type} but holds ${found}`);
    return;
  }
}

function filesOf(job: ImportJob, paths: readonly string[], summary: ImportSummary): JobFile[] {
  return job.inputs.map((input, i) => {
    const name = paths[i]!.slice(paths[i]!.lastIndexOf('/') + 1);
    const f = summary.files.find((r) => r.name === name) ?? summary.files.find((r) => r.resourceType === input.type);
    return { type: input.type, url: input.url, ...(f ? { fileKey: f.fileKey, written: f.written, unchanged: f.unchanged, rejected: f.rejected, lines: f.lines } : { written: 0, unchanged: 0, rejected: 0, lines: 0 }) };
  });
}

/** Counts over every run of the job's inputs (a resumed job counts what the crashed run committed). */
function totalsOf(summary: ImportSummary, last: JobProgress | undefined): JobProgress {
  const sum = (k: 'written' | 'unchanged' | 'rejected'): number => summary.files.reduce((n, f) => n + f[k], 0);
  return { bytesDone: last?.bytesTotal ?? 0, bytesTotal: last?.bytesTotal ?? 0, written: sum('written'), unchanged: sum('unchanged'), rejected: sum('rejected') };
}

function failureOf(err: unknown): { status: number; outcome: ReturnType<typeof outcome> } {
  if (err instanceof OutboundRefused) return { status: 400, outcome: outcome([issue('forbidden', `An input could not be fetched: ${err.message}`)]) };
  if (err instanceof InputError) return { status: 400, outcome: outcome([issue('invalid', err.message)]) };
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code?: unknown }).code) : '';
  if (/^E[A-Z]+$/.test(code)) return { status: 502, outcome: outcome([issue('transient', `An input could not be fetched (${code})`)]) };
  return { status: 500, outcome: outcome([issue('exception', 'The import failed on the server; see its log')]) };
}

function errorSummary(err: unknown): { name?: string; code?: unknown; message?: string } {
  return err instanceof Error ? { name: err.name, code: (err as { code?: unknown }).code, message: err.message } : {};
}

// The Bulk Data `$import` operation (docs/adr/0019, docs/import.md): kick-off, status polling,
// cancellation and the per-input error files. The async pattern is FHIR Bulk Data's: the kick-off needs
// `Prefer: respond-async` and answers 202 with Content-Location; the status endpoint answers 202 with
// X-Progress while the job runs, 200 with the completion body when it is done, 404 once cancelled.
// Who may call these routes is decided in access.ts ('admin': administrative clients only).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { FhirError, informational, issue, notFound, outcome } from '../../fhir/outcome.js';
import { CONCORD_BASE } from '../../fhir/profiles/urls.js';
import type { ImportJob, ImportJobStore } from '../../import/jobs.js';
import { parseImportRequest } from '../../import/kickoff.js';
import type { ImportJournal } from '../../import/store.js';
import { OutboundRefused, type OutboundGuard } from '../../net/outbound-guard.js';
import { baseUrlOf, sendJson } from '../responses.js';
import { negotiate } from '../negotiation.js';

export const IMPORT_ERRORS_ROUTE = '/fhir/$import-status/:id/errors/:index';
/** Where an error line says which input line it is about (OperationOutcome.extension). */
export const IMPORT_LINE_EXTENSION = `${CONCORD_BASE}/StructureDefinition/import-line`;
export const IMPORT_RESOURCE_EXTENSION = `${CONCORD_BASE}/StructureDefinition/import-resource`;
export const IMPORT_RULE_EXTENSION = `${CONCORD_BASE}/StructureDefinition/import-rule`;

export interface ImportRouteServices {
  jobs: ImportJobStore;
  journal: ImportJournal;
  /** The outbound guard the inputs are fetched through: checked at kick-off too. */
  guard: OutboundGuard;
  /** Tells this instance's runner there is a job (others find it when they poll). */
  wake: () => void;
  configuredBaseUrl?: string;
}

type Job = { Params: { id: string } };
/** An error file is NDJSON, by whichever of its names the client asks. */
const ERROR_FILE_TYPES = ['application/fhir+ndjson', 'application/ndjson', 'application/x-ndjson'];
type ErrorFile = { Params: { id: string; index: string } };

function respondAsync(request: FastifyRequest): boolean {
  const header = request.headers.prefer;
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return /(^|[,;\s])respond-async\b/i.test(text);
}

/** The job a status request names: 404 for unknown and cancelled (deleted) jobs alike. */
async function visibleJob(services: ImportRouteServices, id: string): Promise<ImportJob> {
  const job = /^[A-Za-z0-9-]{1,64}$/.test(id) ? await services.jobs.get(id) : undefined;
  if (!job || job.cancelRequested || job.status === 'cancelled') throw notFound(`No $import job '${id}'`);
  return job;
}

function progressText(job: ImportJob): string {
  if (job.status === 'queued') return 'queued';
  const pct = job.bytesTotal > 0 ? Math.floor((100 * job.bytesDone) / job.bytesTotal) : 0;
  return `${pct}% (${job.written} written, ${job.unchanged} unchanged, ${job.rejected} rejected)`;
}

/** The completion body: counts per input, and an OperationOutcome NDJSON file per input with rejected lines. */
function completion(job: ImportJob, base: string, requiresAccessToken: boolean): Record<string, unknown> {
  return {
    transactionTime: job.completedAt,
    request: job.requestUrl,
    requiresAccessToken,
    output: job.files.map((f) => ({ type: f.type, inputUrl: f.url, count: f.written + f.unchanged, written: f.written, unchanged: f.unchanged })),
    error: job.files.flatMap((f, i) =>
      f.rejected > 0 ? [{ type: 'OperationOutcome', inputUrl: f.url, count: f.rejected, url: `${base}/$import-status/${job.id}/errors/${i}` }] : [],
    ),
  };
}

export function importRoutes(app: FastifyInstance, services: ImportRouteServices): void {
  app.post('/$import', async (request, reply) => {
    if (!respondAsync(request)) throw new FhirError(400, issue('invalid', '$import is asynchronous: send Prefer: respond-async'));
    const parsed = parseImportRequest(request.body);
    // Checked now against what the names resolve to, and again when each input is fetched.
    for (const [i, input] of parsed.inputs.entries()) {
      try {
        await services.guard.check(new URL(input.url));
      } catch (err) {
        const why = err instanceof OutboundRefused ? err.message : 'its host does not resolve';
        throw new FhirError(400, issue('forbidden', `input[${i}].url may not be fetched: ${why}`, { expression: ['Parameters.parameter'] }));
      }
    }
    const base = baseUrlOf(request, services.configuredBaseUrl);
    const id = randomUUID();
    await services.jobs.create({
      id,
      ...(request.auth?.clientId ? { clientId: request.auth.clientId } : {}),
      requestUrl: `${base}/$import`,
      ...(parsed.inputSource ? { inputSource: parsed.inputSource } : {}),
      inputs: parsed.inputs,
    });
    services.wake();
    request.log.info({ job: id, inputs: parsed.inputs.length }, 'import job accepted');
    return sendJson(reply, 202, informational(`Import job ${id} accepted`), { 'Content-Location': `${base}/$import-status/${id}` });
  });

  app.get<Job>('/$import-status/:id', async (request, reply) => {
    const job = await visibleJob(services, request.params.id);
    if (job.status === 'queued' || job.status === 'running') {
      return reply.code(202).headers({ 'X-Progress': progressText(job), 'Retry-After': '2' }).send();
    }
    if (job.status === 'failed') {
      const failure = job.failure ?? { status: 500, outcome: outcome([issue('exception', 'The import failed')]) };
      return sendJson(reply, failure.status, failure.outcome);
    }
    return reply.code(200).type('application/json').send(JSON.stringify(completion(job, baseUrlOf(request, services.configuredBaseUrl), request.auth !== null)));
  });

  app.delete<Job>('/$import-status/:id', async (request, reply) => {
    await visibleJob(services, request.params.id);
    if ((await services.jobs.requestCancel(request.params.id)) === 'unknown') throw notFound(`No $import job '${request.params.id}'`);
    return sendJson(reply, 202, informational(`Import job ${request.params.id} is cancelled; lines already committed stay stored`));
  });

  app.get<ErrorFile>('/$import-status/:id/errors/:index', async (request, reply) => {
    negotiate(request, ERROR_FILE_TYPES);
    const job = await visibleJob(services, request.params.id);
    const file = /^\d{1,3}$/.test(request.params.index) ? job.files[Number(request.params.index)] : undefined;
    if (job.status !== 'completed' || !file?.fileKey) throw notFound(`No error file ${request.params.index} for $import job '${job.id}'`);
    const lines: string[] = [];
    for (const e of await services.journal.errors(file.fileKey)) {
      const oo: OperationOutcome = {
        ...e.outcome,
        extension: [
          { url: IMPORT_LINE_EXTENSION, valueInteger: e.line },
          ...(e.resourceType && e.id ? [{ url: IMPORT_RESOURCE_EXTENSION, valueString: `${e.resourceType}/${e.id}` }] : []),
          ...(e.ruleId ? [{ url: IMPORT_RULE_EXTENSION, valueString: e.ruleId }] : []),
        ],
      };
      lines.push(JSON.stringify(oo));
    }
    return reply.code(200).type('application/fhir+ndjson').send(lines.length > 0 ? `${lines.join('\n')}\n` : '');
  });
}

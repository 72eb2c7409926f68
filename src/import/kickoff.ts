// The `$import` kick-off request (a Parameters resource, as in the Bulk Data Import draft): which inputs
// to load, in which format, from where. Pure: the HTTP route checks the URLs against the outbound guard
// after this accepted the shape.
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { isResourceType } from '../fhir/definitions.js';
import { badRequest, FhirError, issue } from '../fhir/outcome.js';
import type { ImportInput } from './jobs.js';

/** Formats an input may be in: NDJSON, one resource per line. */
export const INPUT_FORMATS = ['application/fhir+ndjson', 'application/ndjson'] as const;
/** Most inputs one job takes. */
export const MAX_INPUTS = 100;

export interface ImportRequest {
  inputFormat: string;
  inputSource?: string;
  inputs: ImportInput[];
}

const text = (p: ParametersParameter | undefined): string | undefined => p?.valueCode ?? p?.valueUri ?? p?.valueUrl ?? p?.valueString;

/** The request's inputs, or a 400 naming the parameter at fault. */
export function parseImportRequest(body: unknown): ImportRequest {
  const params = body as Parameters | undefined;
  if (!params || typeof params !== 'object' || params.resourceType !== 'Parameters') throw badRequest('The $import body must be a Parameters resource');
  const list = Array.isArray(params.parameter) ? params.parameter : [];
  const named = (name: string): ParametersParameter[] => list.filter((p) => p?.name === name);
  const known = new Set(['inputFormat', 'inputSource', 'input', 'storageDetail']);
  const unknown = list.find((p) => !known.has(p?.name));
  if (unknown) throw badRequest(`Unknown $import parameter '${String(unknown?.name)}'`, ['Parameters.parameter']);

  const formats = named('inputFormat');
  const inputFormat = text(formats[0]);
  if (formats.length !== 1 || !inputFormat) throw badRequest('inputFormat is required once (application/fhir+ndjson)', ['Parameters.parameter']);
  if (!(INPUT_FORMATS as readonly string[]).includes(inputFormat)) {
    throw new FhirError(400, issue('not-supported', `inputFormat '${inputFormat}' is not supported; use application/fhir+ndjson`, { expression: ['Parameters.parameter'] }));
  }

  const sources = named('inputSource');
  if (sources.length > 1) throw badRequest('inputSource may be given once', ['Parameters.parameter']);
  const inputSource = text(sources[0]);
  if (sources.length === 1 && !inputSource) throw badRequest('inputSource needs a valueUri', ['Parameters.parameter']);

  // Only inputs fetched over http(s) (the outbound guard decides which) are supported.
  for (const detail of named('storageDetail')) {
    const type = text(detail.part?.find((p) => p.name === 'type'));
    if (type !== undefined && type !== 'https') {
      throw new FhirError(400, issue('not-supported', `storageDetail type '${type}' is not supported; inputs are fetched over https`, { expression: ['Parameters.parameter'] }));
    }
  }

  const inputs = named('input');
  if (inputs.length === 0) throw badRequest('At least one input (type and url) is required', ['Parameters.parameter']);
  if (inputs.length > MAX_INPUTS) throw badRequest(`At most ${MAX_INPUTS} inputs per $import`, ['Parameters.parameter']);
  const out: ImportInput[] = inputs.map((input, i) => {
    const where = `input[${i}]`;
    const parts = Array.isArray(input.part) ? input.part : [];
    const type = text(parts.find((p) => p?.name === 'type'));
    const url = text(parts.find((p) => p?.name === 'url'));
    if (!type || !isResourceType(type)) throw badRequest(`${where}: type must name a resource type, got '${type ?? ''}'`, ['Parameters.parameter']);
    if (!url) throw badRequest(`${where}: url is required`, ['Parameters.parameter']);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badRequest(`${where}: url is not an absolute URL`, ['Parameters.parameter']);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw badRequest(`${where}: only http(s) URLs can be fetched`, ['Parameters.parameter']);
    return { type, url: parsed.toString() };
  });
  return { inputFormat, ...(inputSource ? { inputSource } : {}), inputs: out };
}

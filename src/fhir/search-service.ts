// FHIR search as an interaction: parse the parameters (400 for malformed ones, warnings or 400 for
// unknown ones per Prefer: handling), run the index-backed query, and answer a searchset Bundle with
// self/next/previous links whose _cursor keeps pages stable while other clients write.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { newId } from './ids.js';
import { isResourceType } from './definitions.js';
import { notFound, outcome } from './outcome.js';
import type { Repository, SearchPage, WriteTx } from './repository.js';
import { encodeCursor, parseSearchRequest } from './search/index.js';
import { assertSearchLimits, DEFAULT_SEARCH_LIMITS, type SearchLimits } from './search/limits.js';
import type { SearchCursor, SearchRequest } from './search/types.js';
import { subsetResource } from './summary.js';
import { accessFilter, type Viewer } from '../access/viewer.js';

export interface SearchOptions {
  strict: boolean;
  baseUrl: string;
  /** Inside a transaction Bundle, search sees the transaction's own writes. */
  tx?: WriteTx;
  /** Aborted when the client went away: the running query is cancelled. */
  signal?: AbortSignal;
  /** Only what this organization's client may see, totals and includes included (docs/adr/0008). */
  viewer?: Viewer;
}

export class SearchService {
  constructor(
    private readonly repo: Repository,
    private readonly limits: { maxCount: number; defaultCount: number; complexity?: SearchLimits },
    /** The configured BASE_URL(s): absolute reference values under them search as local Type/id. */
    private readonly baseUrls: readonly string[] = [],
  ) {}

  /** type undefined = system-level search (optionally limited by _type). Returns the Bundle as JSON text. */
  async search(type: string | undefined, params: URLSearchParams, options: SearchOptions): Promise<string> {
    if (type !== undefined && !isResourceType(type)) throw notFound(`Unknown resource type '${type}'`);
    // Refused before parsing: too costly a query, or a NUL that PostgreSQL text cannot hold.
    assertSearchLimits(params, this.limits.complexity ?? DEFAULT_SEARCH_LIMITS);
    const { request, warnings } = parseSearchRequest(type, params, {
      strict: options.strict,
      maxCount: this.limits.maxCount,
      defaultCount: this.limits.defaultCount,
      localBases: [...this.baseUrls, options.baseUrl],
    });
    const access = accessFilter(options.viewer, new Date());
    if (access) request.access = access;
    const page = await (options.tx ? options.tx.search(request) : this.repo.search(request, options.signal ? { signal: options.signal } : {}));
    return searchsetBundle(type, request, page, warnings, options.baseUrl);
  }
}

/** Links repeat only the parameters the search applied (R4: the self link shows what was used). */
function pageUrl(baseUrl: string, type: string | undefined, applied: [string, string][], cursor: SearchCursor | undefined): string {
  const q = new URLSearchParams(applied);
  if (cursor) q.set('_cursor', encodeCursor(cursor));
  const qs = q.toString();
  return `${baseUrl}${type ? `/${type}` : ''}${qs ? `?${qs}` : ''}`;
}

function searchsetBundle(
  type: string | undefined,
  request: SearchRequest,
  page: SearchPage,
  warnings: OperationOutcomeIssue[],
  baseUrl: string,
): string {
  const params = request.applied;
  const link = [{ relation: 'self', url: pageUrl(baseUrl, type, params, request.cursor ? page.self : undefined) }];
  if (page.next) link.push({ relation: 'next', url: pageUrl(baseUrl, type, params, page.next) });
  if (page.previous) link.push({ relation: 'previous', url: pageUrl(baseUrl, type, params, page.previous) });
  const head: Record<string, unknown> = {
    resourceType: 'Bundle',
    id: newId(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'searchset',
    ...(page.total === undefined ? {} : { total: page.total }),
    link,
  };
  const entry = (mode: 'match' | 'include', m: { resourceType: string; id: string; content: string }): string =>
    `{"fullUrl":${JSON.stringify(`${baseUrl}/${m.resourceType}/${m.id}`)},"resource":${subsetResource(m.content, request.summary, request.elements)},"search":{"mode":"${mode}"}}`;
  const entries = [...page.matches.map((m) => entry('match', m)), ...page.included.map((m) => entry('include', m))];
  const notes = [...warnings];
  if (page.includeTruncated) {
    notes.push({ severity: 'warning', code: 'too-costly', diagnostics: '_include/_revinclude results were truncated at the server limit' });
  }
  if (notes.length) entries.push(`{"resource":${JSON.stringify(outcome(notes))},"search":{"mode":"outcome"}}`);
  const headJson = JSON.stringify(head);
  return entries.length ? `${headJson.slice(0, -1)},"entry":[${entries.join(',')}]}` : headJson;
}

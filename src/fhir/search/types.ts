// The search AST: what parseSearchRequest produces and src/storage/search turns into SQL, and the
// index rows extractIndexValues produces for writeSearchIndex. Plain data, no SQL and no HTTP.
import type { AccessFilter } from '../../access/viewer.js';

export type SearchParamType = 'number' | 'date' | 'string' | 'token' | 'reference' | 'quantity' | 'uri' | 'composite' | 'special';

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

export type Modifier = 'exact' | 'contains' | 'not' | 'text' | 'identifier' | 'above' | 'below' | 'type' | 'in' | 'not-in';

/** A token search value. system undefined = any system; null = no system (`|code`). */
export interface TokenValue {
  kind: 'token';
  system?: string | null;
  code?: string;
}

/** Number/quantity/date values carry the prefix and the half-open range [low, high) the value denotes. */
export interface NumberValue {
  kind: 'number';
  prefix: Prefix;
  value: number;
  /** Implicit precision range of the value as written (100 -> [99.5, 100.5)). */
  low: number;
  high: number;
}

export interface QuantityValue extends Omit<NumberValue, 'kind'> {
  kind: 'quantity';
  system?: string;
  /** Matched against the unit code, or the unit text when no system is given. */
  unit?: string;
}

export interface DateValue {
  kind: 'date';
  prefix: Prefix;
  /** ISO instants, [low, high): the precision range of the value as written. */
  low: string;
  high: string;
}

export interface StringValue {
  kind: 'string';
  /** As written (for :exact). */
  value: string;
  /** Lowercased, accents stripped (default and :contains). */
  normalized: string;
}

export interface UriValue {
  kind: 'uri';
  value: string;
}

/** A reference search value: `id`, `Type/id`, or an absolute/canonical url. */
export interface ReferenceValue {
  kind: 'reference';
  type?: string;
  id?: string;
  url?: string;
}

export interface CompositeValue {
  kind: 'composite';
  /** One value per component, in definition order (only two-component composites are supported). */
  parts: [TokenValue | ReferenceValue | StringValue, SearchValue];
}

export type SearchValue =
  | TokenValue
  | NumberValue
  | QuantityValue
  | DateValue
  | StringValue
  | UriValue
  | ReferenceValue
  | CompositeValue;

/**
 * A predicate on resources of `resourceTypes` (undefined = any type, system-level search).
 * Filters in SearchRequest.filters are ANDed; the values of one param filter are ORed.
 */
export type Filter =
  | {
      kind: 'param';
      resourceTypes?: string[];
      code: string;
      paramType: SearchParamType;
      modifier?: Modifier;
      /** For a reference type modifier (`subject:Patient=123`). */
      targetType?: string;
      /** For :in / :not-in the (system, code) pairs of the named ValueSets' expansion (values is then empty). */
      codes?: { system: string; code: string }[];
      values: SearchValue[];
    }
  | { kind: 'missing'; resourceTypes?: string[]; code: string; paramType: SearchParamType; missing: boolean }
  /** `_id` (token on the resource row itself). */
  | { kind: 'id'; ids: string[]; not: boolean }
  /** Forward chain: the resource's reference param `code` points at a targetTypes resource matching `filter`. */
  | { kind: 'chain'; resourceTypes?: string[]; code: string; targetTypes: string[]; filter: Filter }
  /** Reverse chain `_has:sourceType:code:...`: some sourceType resource whose `code` points here matches `filter`. */
  | { kind: 'has'; sourceType: string; code: string; filter: Filter }
  /** `_list=id,...`: the resource is an entry.item of one of these List resources. */
  | { kind: 'list'; listIds: string[] };

export interface SortKey {
  code: string;
  paramType: SearchParamType;
  descending: boolean;
}

export interface IncludeSpec {
  /** Type of the resource holding the reference, or '*' for any type (`_include=*`). */
  sourceType: string;
  /** Reference search parameter code, or '*' for every reference parameter. */
  code: string;
  targetType?: string;
  iterate: boolean;
}

export type SummaryMode = 'true' | 'text' | 'data' | 'count' | 'false';
export type TotalMode = 'none' | 'estimate' | 'accurate';

export interface SearchRequest {
  /** Undefined for system-level search (then `types` limits the types, from `_type`). */
  resourceType?: string;
  /** Resource types searched: [resourceType], the `_type` list, or undefined = every type. */
  types?: string[];
  filters: Filter[];
  sort: SortKey[];
  count: number;
  /** Undefined = the server's default: exact when the result fits in the page, otherwise omitted. */
  total?: TotalMode;
  summary?: SummaryMode;
  elements?: string[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** Paging position decoded from `_cursor` (see cursor.ts). */
  cursor?: SearchCursor;
  /**
   * The parameters actually applied, in request order and normalised (unknown or ignored ones left out,
   * _count clamped): what the self/next/previous links repeat. `_cursor` is not among them.
   */
  applied: [string, string][];
  /** Only what this organization's client may see (undefined = everything): docs/adr/0008. */
  access?: AccessFilter;
}

/**
 * Paging state carried in next/previous links. maxRid bounds every page to the rows that existed when
 * the first page was served (rids are assigned in insertion order), so concurrent inserts never shift
 * pages. Unsorted searches page by keyset on rid (`afterRid`/`beforeRid`); sorted ones by offset.
 */
export interface SearchCursor {
  maxRid: number;
  offset: number;
  afterRid?: number;
  beforeRid?: number;
}

// ---- index rows -------------------------------------------------------------------------------

export interface TokenRow { code: string; system: string | null; value: string | null; text: string | null }
export interface StringRow { code: string; normalized: string; exact: string }
/** ISO instants (or '-infinity'/'infinity'), [low, high). */
export interface DateRow { code: string; low: string; high: string }
export interface NumberRow { code: string; low: number; high: number }
export interface QuantityRow { code: string; low: number; high: number; system: string | null; unitCode: string | null; unit: string | null }
export interface ReferenceRow {
  code: string;
  targetType: string | null;
  targetId: string | null;
  /** The literal (absolute, urn, canonical without version) reference when not a relative Type/id. */
  url: string | null;
  identifierSystem: string | null;
  identifierValue: string | null;
}
export interface UriRow { code: string; value: string }
export interface CompositeRow {
  code: string;
  c1System: string | null;
  c1Value: string | null;
  c2System: string | null;
  c2Value: string | null;
  c2Low: number | null;
  c2High: number | null;
  c2DateLow: string | null;
  c2DateHigh: string | null;
}

export interface IndexRows {
  token: TokenRow[];
  string: StringRow[];
  date: DateRow[];
  number: NumberRow[];
  quantity: QuantityRow[];
  reference: ReferenceRow[];
  uri: UriRow[];
  composite: CompositeRow[];
}

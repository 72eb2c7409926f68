// FHIR search without SQL: parameter definitions, index extraction, request parsing and the AST.
export { extractIndexValues } from './extract.js';
export { parseSearchRequest, type ParseOptions, type ParsedSearch } from './parse.js';
export { searchParametersFor, getSearchParam, type SearchParamDef } from './parameters.js';
export { encodeCursor, decodeCursor } from './cursor.js';
export type * from './types.js';
